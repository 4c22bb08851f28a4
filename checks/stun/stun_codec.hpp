#pragma once
// STUN messages (RFC 5389/8489) with the RFC 5780 NAT-behaviour attributes.
// Our own codec: no library here speaks STUN. parse() never trusts a length
// it has not checked against the bytes it holds; every rejection says why.
#include <array>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace callready::checks::stun {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using TransactionId = std::array<std::uint8_t, 12>;
// A transport address (IP + port); the transport itself is the caller's business.
using Endpoint = boost::asio::ip::udp::endpoint;

inline constexpr std::uint32_t kMagicCookie = 0x2112A442;
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554e;
inline constexpr std::uint16_t kBinding = 0x001;

enum class MessageClass : std::uint8_t { request = 0, indication = 1, success = 2, error = 3 };

namespace attr {
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t change_request = 0x0003;  // RFC 5780
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t realm = 0x0014;
inline constexpr std::uint16_t nonce = 0x0015;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;  // RFC 8489
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t padding = 0x0026;        // RFC 5780
inline constexpr std::uint16_t response_port = 0x0027;  // RFC 5780
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t alternate_server = 0x8023;
inline constexpr std::uint16_t fingerprint = 0x8028;
inline constexpr std::uint16_t response_origin = 0x802b;  // RFC 5780
inline constexpr std::uint16_t other_address = 0x802c;    // RFC 5780
}  // namespace attr

// Types this codec understands; any other type below 0x8000 is
// comprehension-required and makes a request fail with 420.
bool is_known_attribute(std::uint16_t type);

struct Attribute {
  std::uint16_t type = 0;
  std::size_t offset = 0;  // of the attribute header within Message::raw
  Bytes value;             // without padding
};

struct Message {
  std::uint16_t method = kBinding;
  MessageClass cls = MessageClass::request;
  TransactionId transaction_id{};
  // In wire order. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT
  // are dropped, as RFC 5389 §15.4 requires receivers to ignore them.
  std::vector<Attribute> attributes;
  Bytes raw;  // the message as received, for MESSAGE-INTEGRITY checks
  std::optional<std::size_t> integrity_offset;
  bool fingerprint_verified = false;  // FINGERPRINT present (and correct, or parse fails)

  const Attribute* find(std::uint16_t type) const;
  // Comprehension-required attributes this codec does not know (for 420 / to fail a response).
  std::vector<std::uint16_t> unknown_comprehension_required() const;
};

struct ParseResult {
  std::optional<Message> message;
  std::string error;  // why the bytes were rejected, when message is empty
  explicit operator bool() const { return message.has_value(); }
};

// One complete message: `data` must be exactly the header plus its length
// (a UDP datagram, or one frame read off a TCP stream).
ParseResult parse(ByteView data);

// Over TCP (RFC 5389 §7.2.2) the header says how long the frame is: total
// bytes of the message, or an error when the header cannot start a STUN message.
struct FrameLength {
  std::size_t total = 0;
  std::string error;
};
FrameLength frame_length(ByteView header);  // header.size() >= kHeaderSize

// Attribute values. nullopt when the value is malformed (parse() already
// rejects malformed values of these types, so a parsed Message never yields one).
std::optional<Endpoint> read_address(const Attribute&);
std::optional<Endpoint> read_xor_address(const Attribute&, const TransactionId&);
struct ErrorCode {
  int code = 0;  // 300-699
  std::string reason;
};
std::optional<ErrorCode> read_error_code(const Attribute&);
struct ChangeRequest {
  bool change_ip = false;
  bool change_port = false;
};
std::optional<ChangeRequest> read_change_request(const Attribute&);
std::optional<std::uint16_t> read_response_port(const Attribute&);
std::vector<std::uint16_t> read_unknown_attributes(const Attribute&);
std::string read_string(const Attribute&);

// Writes a message attribute by attribute; the header length is kept current.
class Builder {
 public:
  Builder(std::uint16_t method, MessageClass cls, const TransactionId& id);
  Builder& add(std::uint16_t type, ByteView value);
  Builder& add_string(std::uint16_t type, std::string_view value);
  Builder& add_address(std::uint16_t type, const Endpoint& ep);
  Builder& add_xor_address(std::uint16_t type, const Endpoint& ep);
  Builder& add_error_code(int code, std::string_view reason);
  Builder& add_change_request(bool change_ip, bool change_port);
  Builder& add_response_port(std::uint16_t port);
  Builder& add_unknown_attributes(const std::vector<std::uint16_t>& types);
  // HMAC-SHA1 over everything so far (RFC 5389 §15.4); add FINGERPRINT after it, if at all.
  Builder& add_message_integrity(ByteView key);
  Builder& add_fingerprint();
  const Bytes& bytes() const { return buf_; }

 private:
  void put16(std::uint16_t v);
  void put32(std::uint32_t v);
  void set_length(std::size_t body);
  Bytes buf_;
  TransactionId id_;
};

// MESSAGE-INTEGRITY keys. Short-term: the password; long-term:
// MD5(username ":" realm ":" password). Both expect SASLprep already applied
// (callers here only use ASCII credentials).
Bytes short_term_key(std::string_view password);
Bytes long_term_key(std::string_view username, std::string_view realm, std::string_view password);
bool verify_message_integrity(const Message& m, ByteView key);

std::uint32_t crc32(ByteView data);
TransactionId random_transaction_id();
std::string to_string(const Endpoint& ep);  // "192.0.2.1:3478", "[2001:db8::1]:3478"

}  // namespace callready::checks::stun
