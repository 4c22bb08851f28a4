#pragma once
// NTP packets (RFC 5905 §7.3), as an SNTP client sends and checks them. Our
// own codec: 48 header bytes, big-endian, no extension fields or MAC are read
// (a server may append them; they are ignored). parse() checks the shape
// only; accept_reply() checks a reply the way a careful client does
// (RFC 5905 §8, RFC 4330 §5) and says why it is not one.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace callready::checks::ntp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline constexpr std::size_t kHeaderSize = 48;
// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01).
inline constexpr std::int64_t kUnixEpochInNtp = 2208988800;
inline constexpr std::uint8_t kVersion = 4;

enum class Mode : std::uint8_t {
  reserved = 0,
  symmetric_active = 1,
  symmetric_passive = 2,
  client = 3,
  server = 4,
  broadcast = 5,
  control = 6,
  private_use = 7
};

// The leap indicator (2 bits): 3 means the server's clock is not synchronised.
enum class Leap : std::uint8_t { none = 0, add_second = 1, delete_second = 2, unsynchronised = 3 };
const char* to_string(Leap leap);  // "none", "add_second", "delete_second", "unsynchronised"

// A 64-bit NTP timestamp: seconds since the start of its era (32 bits) and a
// binary fraction (32 bits). Era 0 began 1900-01-01; era 1 begins 2036-02-07.
struct Timestamp {
  std::uint32_t seconds = 0;
  std::uint32_t fraction = 0;

  std::uint64_t raw() const { return (std::uint64_t{seconds} << 32) | fraction; }
  static Timestamp from_raw(std::uint64_t v) {
    return {static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)};
  }
  bool zero() const { return seconds == 0 && fraction == 0; }
  bool operator==(const Timestamp&) const = default;
};

// Unix time in nanoseconds -> NTP timestamp (the era is implied: dropped).
Timestamp from_unix_ns(std::int64_t unix_ns);
// NTP timestamp -> Unix time in nanoseconds, choosing the era that puts it
// nearest to `pivot_unix_ns` (RFC 5905 §6: the era is not on the wire; a
// client resolves it against its own clock, valid within ±68 years).
std::int64_t to_unix_ns(Timestamp t, std::int64_t pivot_unix_ns);
// a - b in seconds, era-independent: the 64-bit difference taken modulo 2^64
// and read as signed 32.32 fixed point (RFC 5905 §6), correct whenever the
// two are within 68 years of each other, across an era boundary too.
double seconds_between(Timestamp a, Timestamp b);

// The 32-bit short format (16.16) of root delay and root dispersion, in ms.
double short_format_ms(std::uint32_t v);

struct Packet {
  Leap leap = Leap::none;
  std::uint8_t version = kVersion;
  Mode mode = Mode::client;
  std::uint8_t stratum = 0;
  std::int8_t poll = 0;
  std::int8_t precision = 0;
  std::uint32_t root_delay = 0;       // short format
  std::uint32_t root_dispersion = 0;  // short format
  std::uint32_t reference_id = 0;
  Timestamp reference, origin, receive, transmit;
};

Bytes encode(const Packet& p);

struct ParseResult {
  std::optional<Packet> packet;
  std::string error;  // why not, when packet is empty
  explicit operator bool() const { return packet.has_value(); }
};
// Reads the 48-byte header; longer input (extension fields, a MAC) is fine.
ParseResult parse(ByteView bytes);

// A client request: LI 0, version 4, mode 3, every field zero but the
// transmit timestamp, which carries `nonce`. A careful client puts random
// bits there rather than its clock (draft-ietf-ntp-data-minimization, as
// chrony does) and keeps its real send time to itself: the server echoes
// the value as origin, which ties the reply to this request.
Bytes client_request(Timestamp nonce);
// 64 random bits, never zero (zero origin means "no request").
Timestamp random_nonce();

// What a reply to our request is.
enum class ReplyKind {
  sample,          // a time sample a client may use
  kiss,            // stratum 0: a kiss-o'-death, the code in reference_id
  unsynchronised,  // LI 3 or stratum 16..255: the server has no time to give
};

struct Acceptance {
  std::optional<ReplyKind> kind;  // empty: not a valid reply to our request
  std::string error;              // why not
};
// Checks `reply` against the request whose transmit field held `nonce`:
// mode 4, version 1-4, origin == nonce, a non-zero transmit (and receive)
// timestamp. Stratum 0 is a kiss-o'-death; LI 3 or stratum >= 16 an
// unsynchronised server; otherwise a sample.
Acceptance accept_reply(const Packet& reply, Timestamp nonce);

// The kiss code (stratum 0) or, for stratum 1, the reference source: the
// four ASCII bytes of reference_id with trailing NULs dropped; a byte that
// is not printable ASCII becomes '?'.
std::string reference_text(std::uint32_t reference_id);
// reference_id as a dotted quad: for stratum 2-15 over IPv4 the server's own
// upstream address (over IPv6 the first four bytes of its MD5 hash).
std::string reference_address(std::uint32_t reference_id);

// One exchange's four timestamps (RFC 5905 §8): t1 our send, t2 the server's
// receive, t3 its transmit, t4 our receive.
struct Sample {
  double offset_ms = 0;  // ((t2 - t1) + (t3 - t4)) / 2
  double delay_ms = 0;   // (t4 - t1) - (t3 - t2), never below 0
};
Sample sample_of(Timestamp t1, Timestamp t2, Timestamp t3, Timestamp t4);

}  // namespace callready::checks::ntp
