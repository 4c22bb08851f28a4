#pragma once
// The UDP echo probe `callready respond` answers (version 1). Big-endian.
//
//   request  = header(28) | padding                | mac(32)
//   reply    = header(28) | observation(32) | pad  | mac(32)
//
//   header:      magic "CRPB"(4) version(1) kind(1: request, 2: reply)
//                flags(2) session(8) sequence(4) sent_us(8)
//   observation: family(1: 4 or 6) tos(1) port(2) address(16, IPv4 in the
//                first 4) received_us(8) request_size(2) reserved(2)
//   mac:         HMAC-SHA256 over everything before it; keyed with the shared
//                token when flag `keyed` is set, else with an empty key (an
//                integrity check only).
//
// No amplification: a request is at least kMinDatagram bytes, a reply is
// exactly as long as its request, or kMinDatagram when the request asked for a
// minimal reply. Decoders reject, never crash, on any input.
#include <boost/asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace callready::checks::echo {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 28;
inline constexpr std::size_t kObservationSize = 32;
inline constexpr std::size_t kMacSize = 32;
inline constexpr std::size_t kMinDatagram = kHeaderSize + kObservationSize + kMacSize;  // 92
inline constexpr std::size_t kMaxDatagram = 65507;

enum Flag : std::uint16_t {
  kMinimalReply = 0x0001,  // request: answer with kMinDatagram bytes whatever the request's size
  kKeyed = 0x0002,         // the mac is keyed with the shared token
};

struct Request {
  std::uint64_t session = 0;
  std::uint32_t sequence = 0;
  std::uint64_t sent_us = 0;  // sender's clock, microseconds since the Unix epoch
  bool minimal_reply = false;
  bool keyed = false;               // set by decode; encode sets it from the token
  std::size_t size = kMinDatagram;  // whole datagram, clamped to [kMinDatagram, kMaxDatagram]
};

// What the responder saw of the request.
struct Observation {
  boost::asio::ip::udp::endpoint source;  // the client as the responder saw it (after NAT)
  std::uint8_t tos = 0;                   // IPv4 TOS / IPv6 traffic class byte received
  std::uint64_t received_us = 0;          // responder's clock
  std::uint16_t request_size = 0;         // bytes of the request's UDP payload received
};

struct Reply {
  std::uint64_t session = 0;
  std::uint32_t sequence = 0;
  std::uint64_t sent_us = 0;  // echoed from the request
  bool keyed = false;
  Observation seen;
  std::size_t size = 0;
};

enum class DecodeError {
  none,
  too_short,
  too_long,
  bad_magic,
  bad_version,
  wrong_kind,
  unauthenticated,
  bad_mac,
  bad_field
};
const char* to_string(DecodeError);

using Bytes = std::span<const std::uint8_t>;

std::vector<std::uint8_t> encode_request(const Request& r, std::string_view token);
// With a non-empty token, only keyed requests whose mac verifies are accepted.
// With an empty token the mac is not checked (the responder runs open).
DecodeError decode_request(Bytes datagram, std::string_view token, Request& out);

// The reply to `request` (as decoded, with its size). Never longer than the request.
std::vector<std::uint8_t> encode_reply(const Request& request, const Observation& seen, std::string_view token);
// A keyed reply must verify with `token`; an unkeyed one with the empty key.
DecodeError decode_reply(Bytes datagram, std::string_view token, Reply& out);

// Microseconds since the Unix epoch (the clock probes carry).
std::uint64_t now_us();

}  // namespace callready::checks::echo
