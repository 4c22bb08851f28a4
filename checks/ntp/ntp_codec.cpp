#include "checks/ntp/ntp_codec.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cmath>

namespace callready::checks::ntp {

namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kEraSeconds = std::int64_t{1} << 32;

std::uint32_t read32(ByteView b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

Timestamp read_timestamp(ByteView b, std::size_t at) { return {read32(b, at), read32(b, at + 4)}; }

void write32(Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void write_timestamp(Bytes& out, Timestamp t) {
  write32(out, t.seconds);
  write32(out, t.fraction);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

const char* to_string(Leap leap) {
  switch (leap) {
    case Leap::none:
      return "none";
    case Leap::add_second:
      return "add_second";
    case Leap::delete_second:
      return "delete_second";
    case Leap::unsynchronised:
      return "unsynchronised";
  }
  return "unsynchronised";
}

Timestamp from_unix_ns(std::int64_t unix_ns) {
  auto secs = floor_div(unix_ns, kNanosPerSecond);
  auto nanos = unix_ns - secs * kNanosPerSecond;  // 0 .. 1e9-1
  auto ntp_secs = secs + kUnixEpochInNtp;
  Timestamp t;
  t.seconds = static_cast<std::uint32_t>(static_cast<std::uint64_t>(ntp_secs));  // era dropped
  // Round to the nearest 2^-32 s; 1e9-1 ns rounds below 2^32.
  t.fraction = static_cast<std::uint32_t>(((static_cast<unsigned __int128>(nanos) << 32) + kNanosPerSecond / 2) /
                                          kNanosPerSecond);
  return t;
}

std::int64_t to_unix_ns(Timestamp t, std::int64_t pivot_unix_ns) {
  // The pivot's NTP seconds, then the era that puts t nearest to it.
  auto pivot_ntp = floor_div(pivot_unix_ns, kNanosPerSecond) + kUnixEpochInNtp;
  auto era = floor_div(pivot_ntp, kEraSeconds);
  auto best = era * kEraSeconds + t.seconds;
  for (auto candidate : {best - kEraSeconds, best + kEraSeconds})
    if (std::llabs(candidate - pivot_ntp) < std::llabs(best - pivot_ntp)) best = candidate;
  auto nanos = static_cast<std::int64_t>((static_cast<unsigned __int128>(t.fraction) * kNanosPerSecond) >> 32);
  return (best - kUnixEpochInNtp) * kNanosPerSecond + nanos;
}

double seconds_between(Timestamp a, Timestamp b) {
  auto diff = static_cast<std::int64_t>(a.raw() - b.raw());  // modulo 2^64, read as signed
  return static_cast<double>(diff) / 4294967296.0;
}

double short_format_ms(std::uint32_t v) { return static_cast<double>(v) / 65536.0 * 1000.0; }

Bytes encode(const Packet& p) {
  Bytes out;
  out.reserve(kHeaderSize);
  out.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(p.leap) << 6) | ((p.version & 7u) << 3) |
                                          (static_cast<unsigned>(p.mode) & 7u)));
  out.push_back(p.stratum);
  out.push_back(static_cast<std::uint8_t>(p.poll));
  out.push_back(static_cast<std::uint8_t>(p.precision));
  write32(out, p.root_delay);
  write32(out, p.root_dispersion);
  write32(out, p.reference_id);
  write_timestamp(out, p.reference);
  write_timestamp(out, p.origin);
  write_timestamp(out, p.receive);
  write_timestamp(out, p.transmit);
  return out;
}

ParseResult parse(ByteView b) {
  ParseResult r;
  if (b.size() < kHeaderSize) {
    r.error = fmt::format("{} bytes, shorter than the 48-byte NTP header", b.size());
    return r;
  }
  Packet p;
  p.leap = static_cast<Leap>(b[0] >> 6);
  p.version = static_cast<std::uint8_t>((b[0] >> 3) & 7u);
  p.mode = static_cast<Mode>(b[0] & 7u);
  p.stratum = b[1];
  p.poll = static_cast<std::int8_t>(b[2]);
  p.precision = static_cast<std::int8_t>(b[3]);
  p.root_delay = read32(b, 4);
  p.root_dispersion = read32(b, 8);
  p.reference_id = read32(b, 12);
  p.reference = read_timestamp(b, 16);
  p.origin = read_timestamp(b, 24);
  p.receive = read_timestamp(b, 32);
  p.transmit = read_timestamp(b, 40);
  r.packet = p;
  return r;
}

Bytes client_request(Timestamp nonce) {
  Packet p;
  p.leap = Leap::none;
  p.version = kVersion;
  p.mode = Mode::client;
  p.transmit = nonce;
  return encode(p);
}

Timestamp random_nonce() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
    // No entropy source: still unique per call, which is what ties replies.
    static std::uint64_t counter = 0x6e7470;
    v = ++counter * 0x9e3779b97f4a7c15ULL;
  }
  if (v == 0) v = 1;
  return Timestamp::from_raw(v);
}

Acceptance accept_reply(const Packet& reply, Timestamp nonce) {
  Acceptance a;
  if (reply.mode != Mode::server) {
    a.error = fmt::format("mode {}, not 4 (server)", static_cast<int>(reply.mode));
    return a;
  }
  if (reply.version < 1 || reply.version > 4) {
    a.error = fmt::format("version {}, not 1-4", reply.version);
    return a;
  }
  if (reply.origin != nonce) {
    a.error = "origin timestamp does not echo our request (a stale, duplicated or forged reply)";
    return a;
  }
  if (reply.stratum == 0) {  // a kiss-o'-death carries no usable time
    a.kind = ReplyKind::kiss;
    return a;
  }
  if (reply.transmit.zero()) {
    a.error = "zero transmit timestamp";
    return a;
  }
  if (reply.receive.zero()) {
    a.error = "zero receive timestamp";
    return a;
  }
  a.kind = reply.leap == Leap::unsynchronised || reply.stratum >= 16 ? ReplyKind::unsynchronised : ReplyKind::sample;
  return a;
}

std::string reference_text(std::uint32_t id) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((id >> shift) & 0xff));
  while (!s.empty() && s.back() == '\0') s.pop_back();
  for (auto& c : s)
    if (c < 0x20 || c > 0x7e) c = '?';
  return s;
}

std::string reference_address(std::uint32_t id) {
  return fmt::format("{}.{}.{}.{}", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
}

Sample sample_of(Timestamp t1, Timestamp t2, Timestamp t3, Timestamp t4) {
  double out = seconds_between(t2, t1);
  double back = seconds_between(t3, t4);
  Sample s;
  s.offset_ms = (out + back) / 2 * 1000.0;
  // RFC 5905 §8: a negative delay (server processing longer than the round
  // trip, i.e. clocks stepping) is clamped; precision is not added here.
  s.delay_ms = std::max(0.0, (seconds_between(t4, t1) - seconds_between(t3, t2)) * 1000.0);
  return s;
}

}  // namespace callready::checks::ntp
