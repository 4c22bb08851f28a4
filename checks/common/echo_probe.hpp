#pragma once
// The echo probe `callready respond` answers over UDP (--udp-ports) and,
// RFC 4571-framed, over TCP (--tcp-ports). Versions 1, 2 and 3; big-endian.
//
//   request  = header(28) | [v2: options(8)] | padding | mac(32)
//   reply    = header(28) | observation(32) | pad      | mac(32)
//
//   header:      magic "CRPB"(4) version(1) kind(1: request, 2: reply)
//                flags(2) session(8) sequence(4) sent_us(8)
//   options:     reply_tos(1) reserved(3) reply_delay_ms(4)       (v2 only)
//   observation: family(1: 4 or 6) tos(1) port(2) address(16, IPv4 in the
//                first 4) received_us(8) request_size(2)
//                v1: reserved(2)
//                v2: reply_tos applied(1) marks(1: bit 0 = over TCP)
//
// Version 2 adds two request fields, each behind a flag: `reply_tos` (the
// responder sends its reply with this IPv4 TOS / IPv6 traffic class byte,
// DSCP << 2 | ECN) and `reply_delay_ms` (the responder sends its one reply
// after this delay, at most kMaxReplyDelayMs, to the request's observed
// source). A reply carries the version of its request, and its flags say
// which of the two the responder honoured (a refused deferral is answered at
// once, without kReplyDelay). A version-1 responder drops version-2 requests
// (bad_version): a client that gets silence for v2 and answers for v1 is
// talking to an older responder.
//
// Version 3 (media streams, `media_quality`) is version 2 plus the
// responder's view of the stream: a v3 request is at least
// kMinStreamDatagram bytes and its reply carries, after the observation,
//   stream view: sent_us(8: the responder's send time) received(4)
//                duplicates(4) highest(4) bitmap(8) clock(1: bit 0 known,
//                bit 1 synchronised) reserved(1) clock_error_ms(2)
// where received and duplicates count the session's requests so far (one
// reply per request: the reply rate never exceeds the request rate) and bit i
// of bitmap says whether sequence highest-1-i arrived. With it the client
// tells a request lost on the way up from a reply lost on the way back.
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
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace callready::checks::echo {

inline constexpr std::uint8_t kVersion = 1;  // the oldest version spoken; v1 requests are still answered
inline constexpr std::uint8_t kVersion2 = 2;
inline constexpr std::uint8_t kVersion3 = 3;
inline constexpr std::uint32_t kMaxReplyDelayMs = 2 * 3600 * 1000;  // 2 h
inline constexpr std::size_t kHeaderSize = 28;
inline constexpr std::size_t kObservationSize = 32;
inline constexpr std::size_t kMacSize = 32;
inline constexpr std::size_t kMinDatagram = kHeaderSize + kObservationSize + kMacSize;  // 92
inline constexpr std::size_t kMaxDatagram = 65507;
inline constexpr std::size_t kStreamViewSize = 32;
inline constexpr std::size_t kMinStreamDatagram = kMinDatagram + kStreamViewSize;  // 124
inline constexpr std::uint32_t kStreamWindow = 64;  // sequences below `highest` the bitmap covers

enum Flag : std::uint16_t {
  kMinimalReply = 0x0001,  // request: answer with kMinDatagram bytes whatever the request's size
  kKeyed = 0x0002,         // the mac is keyed with the shared token
  kReplyTos = 0x0004,      // v2 request: reply_tos is set; reply: it was applied
  kReplyDelay = 0x0008,    // v2 request: reply_delay_ms is set; reply: the reply was deferred by it
};

struct Request {
  std::uint64_t session = 0;
  std::uint32_t sequence = 0;
  std::uint64_t sent_us = 0;  // sender's clock, microseconds since the Unix epoch
  bool minimal_reply = false;
  bool keyed = false;               // set by decode; encode sets it from the token
  std::size_t size = kMinDatagram;  // whole datagram, clamped to [kMinDatagram, kMaxDatagram]
  // Version 2 (encode_request writes v2 when either is set, else v1):
  std::optional<std::uint8_t> reply_tos;        // mark the reply with this TOS / traffic class byte
  std::optional<std::uint32_t> reply_delay_ms;  // send the reply this long after receipt (<= kMaxReplyDelayMs)
  bool stream = false;  // version 3: the reply carries the responder's StreamView (size >= kMinStreamDatagram)
  std::uint8_t version = kVersion;  // set by decode
};

// What the responder saw of the request.
struct Observation {
  boost::asio::ip::udp::endpoint source;  // the client as the responder saw it (after NAT)
  std::uint8_t tos = 0;                   // IPv4 TOS / IPv6 traffic class byte received
  std::uint64_t received_us = 0;          // responder's clock
  std::uint16_t request_size = 0;         // bytes of the request's UDP payload (or TCP frame) received
};

// What the responder did with a v2 request's options (encode_reply puts it in the reply).
struct ReplyMarks {
  std::optional<std::uint8_t> reply_tos;  // the TOS byte the reply was sent with, when reply_tos was honoured
  bool delayed = false;                   // the reply was deferred by reply_delay_ms
  bool tcp = false;                       // served over a TCP connection (observation.tos: the SYN's)
};

// What a v3 reply says of the responder's side of the stream.
struct StreamView {
  std::uint64_t sent_us = 0;     // responder's clock when it sent this reply
  std::uint32_t received = 0;    // distinct requests of the session received so far
  std::uint32_t duplicates = 0;  // requests received again
  std::uint32_t highest = 0;     // highest sequence received
  std::uint64_t bitmap = 0;      // bit i: sequence highest-1-i was received
  bool clock_known = false;      // the responder could read its clock state
  bool clock_synchronised = false;
  std::uint16_t clock_error_ms = 0;  // its estimated error, saturated at 65535
  // Whether `sequence` is known received (true), known lost (false), or outside the window (nullopt).
  std::optional<bool> covers(std::uint32_t sequence) const;
};

struct Reply {
  std::uint64_t session = 0;
  std::uint32_t sequence = 0;
  std::uint64_t sent_us = 0;  // echoed from the request
  bool keyed = false;
  Observation seen;
  std::size_t size = 0;
  std::uint8_t version = kVersion;   // the request's version
  ReplyMarks marks;                  // v2 and v3; all empty for v1
  std::optional<StreamView> stream;  // v3 only
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

// The reply to `request` (as decoded, with its size and version). Never longer
// than the request. `marks` is written for a v2 or v3 request only, `stream`
// for a v3 request only (a v3 reply without it says nothing was received).
std::vector<std::uint8_t> encode_reply(const Request& request, const Observation& seen, std::string_view token,
                                       const ReplyMarks& marks = {}, const StreamView& stream = {});
// A keyed reply must verify with `token`; an unkeyed one with the empty key.
DecodeError decode_reply(Bytes datagram, std::string_view token, Reply& out);

// Microseconds since the Unix epoch (the clock probes carry).
std::uint64_t now_us();

}  // namespace callready::checks::echo
