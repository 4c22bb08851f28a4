#pragma once
// SIP (RFC 3261) as far as the SIP ALG check and its mirror need it: a builder
// and a strict, small parser. Strict means: CRLF line ends only in the header
// section, header names must be tokens, folded lines (CRLF + SP/HT) are joined
// with one SP, Content-Length must match the body, sizes are capped. Anything
// else is rejected with a message; the parser never throws on input.
//
// The mirror: `callready respond` answers each request with a response whose
// body (Content-Type application/x-callready-mirror) is
//   base64( raw-deflate( "<source ip> <source port>\n" + request bytes as they arrived ) )
// Deflate keeps the response small enough to never amplify (see sip_service.cpp);
// base64 keeps every address out of reach of ALGs that search-and-replace text.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callready::checks::sip {

inline constexpr std::size_t kMaxMessageBytes = 8192;  // requests above this are rejected
inline constexpr std::size_t kMaxHeaders = 64;
inline constexpr const char* kMirrorContentType = "application/x-callready-mirror";

struct Header {
  std::string name;   // as sent (compact forms kept: "v", "m", ...)
  std::string value;  // unfolded, surrounding whitespace trimmed
};

struct Message {
  bool is_request = true;
  std::string method;  // requests
  std::string uri;
  int status = 0;  // responses
  std::string reason;
  std::vector<Header> headers;
  std::string body;

  // The first header with this name (case-insensitive; compact forms match:
  // "Via" finds "v"). nullptr when absent.
  const std::string* header(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
};

// Canonical long name of a header ("v" -> "Via", "call-id" -> "Call-ID");
// unknown names come back as written.
std::string canonical_name(std::string_view name);

enum class ParseStatus { ok, incomplete, invalid };

struct ParseResult {
  ParseStatus status = ParseStatus::invalid;
  Message message;
  std::string error;         // why it is invalid
  std::size_t consumed = 0;  // bytes of input the message used (stream framing)
};

// `datagram`: the whole buffer is one message (UDP); Content-Length may be absent
// (body = rest) and extra bytes after the body are ignored (RFC 3261 18.3).
// Stream (TCP): Content-Length is required; `incomplete` until all bytes are there.
ParseResult parse(std::string_view data, bool datagram);

// Writes the message; appends Content-Length when the message has none and
// rewrites an existing one to the body's real size.
std::string serialize(const Message& m);

// A parameter of a header value ("branch" of a Via, "tag" of a From); the
// value of a flag parameter is "". nullopt when absent.
std::optional<std::string> header_param(std::string_view value, std::string_view name);
// The value with the named parameters removed and `append` (";a=b;c") added.
std::string replace_params(std::string_view value, const std::vector<std::string>& remove, std::string_view append);

// One SDP line ("c=IN IP4 1.2.3.4" -> type 'c', value "IN IP4 1.2.3.4").
struct SdpLine {
  char type = 0;
  std::string value;
};
// Strict: every line is <letter>=<value>; CRLF or LF line ends; nullopt otherwise.
std::optional<std::vector<SdpLine>> parse_sdp(std::string_view body);

// Base64 (RFC 4648, padded; OpenSSL's EVP codec) and raw deflate, for the mirror.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);
std::string deflate_raw(std::string_view data);
// nullopt when corrupt or when the output would exceed `limit`.
std::optional<std::string> inflate_raw(std::string_view data, std::size_t limit);

struct Mirror {
  std::string source_ip;
  unsigned short source_port = 0;
  std::string request;  // the request's bytes as the responder received them
};
std::string encode_mirror(const Mirror& m);

// With `callready respond --token`, the mirror answers only requests carrying
//   X-Callready-Auth: <unix seconds>.<nonce>.<hex HMAC-SHA256(token, "callready-sip|" method "|" seconds "|" nonce)>
// (the first 16 bytes of the HMAC). Nothing an ALG rewrites (addresses,
// Call-ID) is covered, so an ALG cannot make a request look forged; a request
// more than kAuthMaxSkewSeconds from the responder's clock is refused. The
// window only bounds how long a captured request stays usable (its answer is
// never larger than itself, so a replay amplifies nothing); it is a day wide
// so that a scanner with a badly set clock is not told that SIP is dropped.
inline constexpr const char* kAuthHeader = "X-Callready-Auth";
inline constexpr long long kAuthMaxSkewSeconds = 86400;
std::string auth_value(std::string_view token, std::string_view method, long long unix_seconds, std::string_view nonce);
bool auth_verifies(std::string_view value, std::string_view token, std::string_view method, long long now_seconds);
std::optional<Mirror> decode_mirror(std::string_view body);

}  // namespace callready::checks::sip
