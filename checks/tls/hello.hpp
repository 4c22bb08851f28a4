#pragma once
// The two wire-format pieces the cipher prober owns. A ClientHello is made by
// libssl once per version (so its extensions are exactly a real client's), then
// its cipher-suite vector is rewritten per probe. The server's first flight is
// read by a small record parser that stops at the ServerHello: the chosen
// version and suite are all enumeration needs, so no key exchange is done.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/tls/suites.hpp"

namespace callready::checks::tls {

using Bytes = std::vector<std::uint8_t>;

// A ClientHello record offering exactly `v` (min = max = v), with SNI when
// `sni` is not empty. nullopt (and `error`) when libssl refuses to build one.
std::optional<Bytes> client_hello_template(TlsVersion v, const std::string& sni, std::string* error = nullptr);

// `hello` with its cipher-suite list replaced by `suites` (signalling values
// such as TLS_EMPTY_RENEGOTIATION_INFO_SCSV are kept), padded as
// with_middlebox_padding does. Empty when malformed.
Bytes with_cipher_suites(const Bytes& hello, const std::vector<std::uint16_t>& suites);

// RFC 7685: a ClientHello whose handshake message is 256-511 bytes long gets
// a padding extension that makes it 512 (a known load-balancer bug drops
// that range; libssl's SSL_OP_TLSEXT_PADDING and browsers do the same). A
// padding extension already there is dropped first. `hello` unchanged when
// outside that range; empty when malformed.
Bytes with_middlebox_padding(const Bytes& hello);
// The handshake message's length (without the record header); 0 when malformed.
std::size_t hello_message_length(const Bytes& hello);
// The cipher-suite list of a ClientHello record (for tests).
std::vector<std::uint16_t> offered_suites(const Bytes& hello);

struct ServerReply {
  enum class Kind { pending, server_hello, alert, not_tls, plain_http };
  Kind kind = Kind::pending;
  std::uint16_t version = 0;  // negotiated (supported_versions wins over legacy_version)
  std::uint16_t cipher = 0;
  bool hello_retry = false;  // a TLS 1.3 HelloRetryRequest (it names the suite too)
  std::uint8_t alert = 0;    // alert description when kind == alert
};

// Reads the server's first bytes until it can say what they were.
class ReplyParser {
 public:
  ServerReply feed(const std::uint8_t* data, std::size_t size);
  ServerReply feed(const Bytes& b) { return feed(b.data(), b.size()); }

 private:
  ServerReply parse_server_hello() const;
  Bytes buf_;  // unconsumed record bytes
  Bytes hs_;   // handshake bytes gathered so far
};

// "handshake_failure" for alert 40, etc.
std::string alert_name(std::uint8_t description);

}  // namespace callready::checks::tls
