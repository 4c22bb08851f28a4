// fuzz-link: check_stun
// STUN (RFC 5389/5780): the message parser, TCP framing and every attribute
// reader on whatever parsed.
#include "checks/stun/stun_codec.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks::stun;

CALLREADY_FUZZ_TARGET(stun) {
  ByteView bytes(data, size);
  if (size >= kHeaderSize) {
    auto frame = frame_length(bytes);
    CALLREADY_FUZZ_CHECK(!frame.error.empty() || frame.total >= kHeaderSize);
  }
  auto parsed = parse(bytes);
  if (!parsed) return 0;
  const auto& m = *parsed.message;
  for (const auto& a : m.attributes) {
    (void)read_address(a);
    (void)read_xor_address(a, m.transaction_id);
    (void)read_error_code(a);
    (void)read_change_request(a);
    (void)read_response_port(a);
    (void)read_unknown_attributes(a);
    (void)read_string(a);
  }
  (void)verify_message_integrity(m, short_term_key("token"));
  return 0;
}
