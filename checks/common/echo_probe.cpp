#include "checks/common/echo_probe.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <chrono>
#include <cstring>

namespace callready::checks::echo {
namespace {

using boost::endian::load_big_u16;
using boost::endian::load_big_u32;
using boost::endian::load_big_u64;
using boost::endian::store_big_u16;
using boost::endian::store_big_u32;
using boost::endian::store_big_u64;

constexpr std::uint8_t kMagic[4] = {'C', 'R', 'P', 'B'};
constexpr std::uint8_t kKindRequest = 1, kKindReply = 2;

void mac(const std::uint8_t* data, std::size_t len, std::string_view key, std::uint8_t* out) {
  unsigned int out_len = kMacSize;
  static const std::uint8_t empty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
  HMAC(EVP_sha256(), k, static_cast<int>(key.size()), data, len, out, &out_len);
}

constexpr std::size_t kOptionsSize = 8;  // v2 request options, right after the header

void write_header(std::uint8_t* p, std::uint8_t version, std::uint8_t kind, std::uint16_t flags, std::uint64_t session,
                  std::uint32_t sequence, std::uint64_t sent_us) {
  std::memcpy(p, kMagic, 4);
  p[4] = version;
  p[5] = kind;
  store_big_u16(p + 6, flags);
  store_big_u64(p + 8, session);
  store_big_u32(p + 16, sequence);
  store_big_u64(p + 20, sent_us);
}

// Checks what every datagram shares; fills flags.
DecodeError check_common(Bytes d, std::uint8_t kind, std::uint16_t& flags) {
  if (d.size() < kMinDatagram) return DecodeError::too_short;
  if (d.size() > kMaxDatagram) return DecodeError::too_long;
  if (std::memcmp(d.data(), kMagic, 4) != 0) return DecodeError::bad_magic;
  if (d[4] != kVersion && d[4] != kVersion2 && d[4] != kVersion3) return DecodeError::bad_version;
  if (d[5] != kind) return DecodeError::wrong_kind;
  if (d[4] == kVersion3 && d.size() < kMinStreamDatagram) return DecodeError::too_short;
  flags = load_big_u16(d.data() + 6);
  return DecodeError::none;
}

bool mac_matches(Bytes d, std::string_view key) {
  std::uint8_t expected[kMacSize];
  mac(d.data(), d.size() - kMacSize, key, expected);
  return CRYPTO_memcmp(expected, d.data() + d.size() - kMacSize, kMacSize) == 0;
}

}  // namespace

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::none:
      return "none";
    case DecodeError::too_short:
      return "too_short";
    case DecodeError::too_long:
      return "too_long";
    case DecodeError::bad_magic:
      return "bad_magic";
    case DecodeError::bad_version:
      return "bad_version";
    case DecodeError::wrong_kind:
      return "wrong_kind";
    case DecodeError::unauthenticated:
      return "unauthenticated";
    case DecodeError::bad_mac:
      return "bad_mac";
    case DecodeError::bad_field:
      return "bad_field";
  }
  return "?";
}

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::optional<bool> StreamView::covers(std::uint32_t sequence) const {
  if (received == 0 || sequence > highest) return std::nullopt;
  if (sequence == highest) return true;
  std::uint32_t back = highest - sequence;
  if (back > kStreamWindow) return std::nullopt;
  return ((bitmap >> (back - 1)) & 1) != 0;
}

std::vector<std::uint8_t> encode_request(const Request& r, std::string_view token) {
  std::size_t size = std::clamp(r.size, r.stream ? kMinStreamDatagram : kMinDatagram, kMaxDatagram);
  std::vector<std::uint8_t> out(size, 0);
  std::uint16_t flags = (r.minimal_reply && !r.stream ? kMinimalReply : 0) | (token.empty() ? 0 : kKeyed);
  bool v2 = r.reply_tos || r.reply_delay_ms;
  if (v2 || r.stream) {
    std::uint8_t* o = out.data() + kHeaderSize;
    if (r.reply_tos) {
      flags |= kReplyTos;
      o[0] = *r.reply_tos;
    }
    if (r.reply_delay_ms) {
      flags |= kReplyDelay;
      store_big_u32(o + 4, std::min(*r.reply_delay_ms, kMaxReplyDelayMs));
    }
  }
  std::uint8_t version = r.stream ? kVersion3 : v2 ? kVersion2 : kVersion;
  write_header(out.data(), version, kKindRequest, flags, r.session, r.sequence, r.sent_us);
  mac(out.data(), size - kMacSize, token, out.data() + size - kMacSize);
  return out;
}

DecodeError decode_request(Bytes d, std::string_view token, Request& out) {
  std::uint16_t flags = 0;
  if (auto e = check_common(d, kKindRequest, flags); e != DecodeError::none) return e;
  bool keyed = flags & kKeyed;
  if (!token.empty()) {
    if (!keyed) return DecodeError::unauthenticated;
    if (!mac_matches(d, token)) return DecodeError::bad_mac;
  }
  out.session = load_big_u64(d.data() + 8);
  out.sequence = load_big_u32(d.data() + 16);
  out.sent_us = load_big_u64(d.data() + 20);
  out.minimal_reply = flags & kMinimalReply;
  out.keyed = keyed;
  out.size = d.size();
  out.version = d[4];
  out.reply_tos.reset();
  out.reply_delay_ms.reset();
  out.stream = out.version == kVersion3;
  // A stream reply is as long as its request: never a minimal one.
  if (out.stream && out.minimal_reply) return DecodeError::bad_field;
  if (out.version != kVersion) {
    const std::uint8_t* o = d.data() + kHeaderSize;
    static_assert(kHeaderSize + kOptionsSize + kMacSize <= kMinDatagram);
    if (flags & kReplyTos) out.reply_tos = o[0];
    if (flags & kReplyDelay) {
      std::uint32_t delay = load_big_u32(o + 4);
      if (delay > kMaxReplyDelayMs) return DecodeError::bad_field;
      out.reply_delay_ms = delay;
    }
  }
  return DecodeError::none;
}

std::vector<std::uint8_t> encode_reply(const Request& request, const Observation& seen, std::string_view token,
                                       const ReplyMarks& marks, const StreamView& stream) {
  std::size_t size = request.minimal_reply ? kMinDatagram : std::clamp(request.size, kMinDatagram, kMaxDatagram);
  std::vector<std::uint8_t> out(size, 0);
  std::uint16_t flags = token.empty() ? 0 : kKeyed;
  bool v2 = request.version == kVersion2 || request.version == kVersion3;
  bool v3 = request.version == kVersion3 && size >= kMinStreamDatagram;
  std::uint8_t* o = out.data() + kHeaderSize;
  if (v2) {
    if (marks.reply_tos) {
      flags |= kReplyTos;
      o[30] = *marks.reply_tos;
    }
    if (marks.delayed) flags |= kReplyDelay;
    o[31] = marks.tcp ? 1 : 0;
  }
  std::uint8_t version = v3 ? kVersion3 : v2 ? kVersion2 : kVersion;
  write_header(out.data(), version, kKindReply, flags, request.session, request.sequence, request.sent_us);
  if (v3) {
    std::uint8_t* s = o + kObservationSize;
    store_big_u64(s, stream.sent_us);
    store_big_u32(s + 8, stream.received);
    store_big_u32(s + 12, stream.duplicates);
    store_big_u32(s + 16, stream.highest);
    store_big_u64(s + 20, stream.bitmap);
    s[28] = static_cast<std::uint8_t>((stream.clock_known ? 1 : 0) | (stream.clock_synchronised ? 2 : 0));
    store_big_u16(s + 30, stream.clock_error_ms);
  }
  auto addr = seen.source.address();
  if (addr.is_v4() || (addr.is_v6() && addr.to_v6().is_v4_mapped())) {
    auto v4 = addr.is_v4() ? addr.to_v4() : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
    o[0] = 4;
    auto b = v4.to_bytes();
    std::memcpy(o + 4, b.data(), 4);
  } else {
    o[0] = 6;
    auto b = addr.to_v6().to_bytes();
    std::memcpy(o + 4, b.data(), 16);
  }
  o[1] = seen.tos;
  store_big_u16(o + 2, seen.source.port());
  store_big_u64(o + 20, seen.received_us);
  store_big_u16(o + 28, seen.request_size);
  mac(out.data(), size - kMacSize, token, out.data() + size - kMacSize);
  return out;
}

DecodeError decode_reply(Bytes d, std::string_view token, Reply& out) {
  std::uint16_t flags = 0;
  if (auto e = check_common(d, kKindReply, flags); e != DecodeError::none) return e;
  bool keyed = flags & kKeyed;
  if (keyed && token.empty()) return DecodeError::unauthenticated;
  if (!mac_matches(d, keyed ? token : std::string_view{})) return DecodeError::bad_mac;
  const std::uint8_t* o = d.data() + kHeaderSize;
  boost::asio::ip::address addr;
  if (o[0] == 4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), o + 4, 4);
    addr = boost::asio::ip::address_v4(b);
  } else if (o[0] == 6) {
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), o + 4, 16);
    addr = boost::asio::ip::address_v6(b);
  } else {
    return DecodeError::bad_field;
  }
  out.session = load_big_u64(d.data() + 8);
  out.sequence = load_big_u32(d.data() + 16);
  out.sent_us = load_big_u64(d.data() + 20);
  out.keyed = keyed;
  out.seen.source = {addr, load_big_u16(o + 2)};
  out.seen.tos = o[1];
  out.seen.received_us = load_big_u64(o + 20);
  out.seen.request_size = load_big_u16(o + 28);
  out.size = d.size();
  out.version = d[4];
  out.marks = {};
  out.stream.reset();
  if (out.version != kVersion) {
    if (flags & kReplyTos) out.marks.reply_tos = o[30];
    out.marks.delayed = flags & kReplyDelay;
    out.marks.tcp = o[31] & 1;
  }
  if (out.version == kVersion3) {
    const std::uint8_t* s = o + kObservationSize;
    StreamView v;
    v.sent_us = load_big_u64(s);
    v.received = load_big_u32(s + 8);
    v.duplicates = load_big_u32(s + 12);
    v.highest = load_big_u32(s + 16);
    v.bitmap = load_big_u64(s + 20);
    v.clock_known = s[28] & 1;
    v.clock_synchronised = s[28] & 2;
    v.clock_error_ms = load_big_u16(s + 30);
    if (s[28] & ~3u) return DecodeError::bad_field;
    out.stream = v;
  }
  return DecodeError::none;
}

}  // namespace callready::checks::echo
