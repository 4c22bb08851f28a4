// fuzz-link: check_tls
// The TLS prober's record/handshake parser (the server's first flight, fed
// in pieces as a socket delivers it) and the ClientHello suite rewriter.
#include "checks/tls/hello.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks::tls;

CALLREADY_FUZZ_TARGET(tls_reply) {
  // The first byte picks the piece size, so the fuzzer also explores splits.
  std::size_t piece = size ? 1 + data[0] % 64 : 1;
  ReplyParser parser;
  for (std::size_t at = 0; at < size; at += piece) {
    auto reply = parser.feed(data + at, std::min(piece, size - at));
    if (reply.kind != ServerReply::Kind::pending) break;
  }
  ReplyParser whole;
  (void)whole.feed(data, size);
  Bytes hello(data, data + size);
  auto suites = offered_suites(hello);
  auto rewritten = with_cipher_suites(hello, {0x1301, 0xc02f});
  if (!rewritten.empty()) (void)offered_suites(rewritten);
  (void)suites;
  return 0;
}
