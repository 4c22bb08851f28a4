#pragma once
// The `proxy` kind's small HTTP codec, no sockets: the head of a request or a
// response as it arrived (start line and fields, raw bytes kept, order kept),
// the HTTP echo's body (what the responder saw: the source address, its TLS
// key pin, the request head byte for byte), and the comparison of a head as
// sent with the head as the echo received it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace callready::checks::proxy {

// Bounds every reader of a head honours (the echo service, the check).
inline constexpr std::size_t kMaxHeadBytes = 16 * 1024;
inline constexpr std::size_t kMaxFields = 100;

struct HeadField {
  std::string name;   // as written (case kept)
  std::string value;  // leading and trailing blanks removed
};

struct Head {
  std::string start_line;  // "GET / HTTP/1.1" or "HTTP/1.1 200 OK"
  std::vector<HeadField> fields;
  std::size_t size = 0;  // bytes up to and including the blank line

  // The first field named `name` (case-insensitive), or nullptr.
  const HeadField* find(std::string_view name) const;
  // "HTTP/1.1 200 OK" -> 200; 0 when the start line is not a status line.
  int status() const;
  // The start line is a request line: method SP request-target SP HTTP-version (RFC 9112 § 3).
  bool is_request() const;
};

enum class HeadStatus {
  ok,
  incomplete,  // no blank line yet, within the bounds
  too_large,   // the head passed kMaxHeadBytes or kMaxFields
  invalid,     // no start line, a field without a colon, a bare CR, a NUL, obsolete line folding
};
const char* to_string(HeadStatus);

struct HeadParse {
  HeadStatus status = HeadStatus::incomplete;
  Head head;
  std::string error;  // with invalid/too_large: what was wrong
};
// Parses the head at the start of `raw` (lines end in CRLF; a lone LF is
// accepted as RFC 9112 § 2.2 allows).
HeadParse parse_head(std::string_view raw);

bool iequals(std::string_view a, std::string_view b);

// What the echo says it received.
struct EchoReport {
  std::string source_address;
  std::uint16_t source_port = 0;
  std::string tls_pin;  // hex SHA-256 of the HTTPS echo's public key (SPKI); "" when it serves none
  std::string head;     // the request head exactly as it arrived
};
inline constexpr const char* kEchoContentType = "application/x-callready-http-echo";
std::string encode_echo(const EchoReport& r);
// nullopt when `body` is not an echo body (a proxy's error page, truncated).
std::optional<EchoReport> decode_echo(std::string_view body);

// How the head the echo received differs from the head sent.
struct HeadDiff {
  std::vector<std::string> added;    // field names present only on arrival
  std::vector<std::string> removed;  // field names sent but missing on arrival
  std::vector<std::string> changed;  // sent and arrived, value or name's case different
  bool reordered = false;            // the fields common to both arrived in another order
  bool request_line_changed = false;
  std::string request_line_received;
  bool any() const {
    return !added.empty() || !removed.empty() || !changed.empty() || reordered || request_line_changed;
  }
};
HeadDiff compare_heads(const Head& sent, const Head& received);

// Names of the fields in `arrived` that `expected` (a head as its sender wrote
// it) does not hold: what something on the way added to a response.
std::vector<std::string> added_fields(const std::vector<std::string>& expected, const Head& arrived);

}  // namespace callready::checks::proxy

namespace callready::checks::proxy {

// The request the check sends the echo: known fields in an unusual order and
// case (so a proxy that rebuilds the head shows), a nonce in the path (so no
// cache answers).
std::string echo_request_head(const std::string& host_header, const std::string& nonce);

// A response as far as it has arrived: complete (head plus Content-Length
// bytes, or head and EOF without a length), or why it cannot be used.
inline constexpr std::size_t kMaxResponseBytes = 64 * 1024;
struct ResponseRead {
  HeadStatus status = HeadStatus::incomplete;
  bool complete = false;
  Head head;
  std::string body;
  std::string error;
};
ResponseRead read_response(std::string_view received, bool eof);

}  // namespace callready::checks::proxy
