#include "checks/stun/stun_codec.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cstring>

#include "probe/net/host_port.hpp"

namespace callready::checks::stun {

namespace {

std::uint16_t get16(ByteView b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
std::uint32_t get32(ByteView b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}
std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t(3); }

std::uint16_t message_type(std::uint16_t method, MessageClass cls) {
  auto c = static_cast<unsigned>(cls);
  return static_cast<std::uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                                    ((c & 1) << 4) | ((c & 2) << 7));
}

bool is_address_type(std::uint16_t t) {
  return t == attr::mapped_address || t == attr::xor_mapped_address || t == attr::other_address ||
         t == attr::response_origin || t == attr::alternate_server;
}

// Family/length agreement of an (XOR-)address value; empty when fine.
std::string check_address_value(ByteView v) {
  if (v.size() < 4) return "too short for an address";
  if (v[1] == 0x01 && v.size() == 8) return {};
  if (v[1] == 0x02 && v.size() == 20) return {};
  if (v[1] != 0x01 && v[1] != 0x02) return fmt::format("unknown address family {}", v[1]);
  return fmt::format("length {} does not fit address family {}", v.size(), v[1]);
}

// A value's shape, for the attribute types whose shape is fixed; empty when fine.
std::string check_value(std::uint16_t type, ByteView v) {
  if (is_address_type(type)) return check_address_value(v);
  switch (type) {
    case attr::message_integrity:
      return v.size() == 20 ? "" : fmt::format("length {} (must be 20)", v.size());
    case attr::fingerprint:
    case attr::change_request:
    case attr::response_port:
      return v.size() == 4 ? "" : fmt::format("length {} (must be 4)", v.size());
    case attr::error_code: {
      if (v.size() < 4) return "too short for an error code";
      int cls = v[2] & 0x07;
      if (cls < 3 || cls > 6 || v[3] > 99) return fmt::format("error code {}{:02} out of range", cls, v[3]);
      return {};
    }
    case attr::unknown_attributes:
      return v.size() % 2 == 0 ? "" : "odd length";
    default:
      return {};
  }
}

std::optional<Endpoint> decode_address(ByteView v, const std::uint8_t* mask) {
  if (!check_address_value(v).empty()) return std::nullopt;
  std::uint16_t port = get16(v, 2);
  if (mask) port ^= static_cast<std::uint16_t>(mask[0] << 8 | mask[1]);
  if (v[1] == 0x01) {
    boost::asio::ip::address_v4::bytes_type a;
    for (std::size_t i = 0; i < 4; ++i) a[i] = v[4 + i] ^ (mask ? mask[i] : 0);
    return Endpoint(boost::asio::ip::address_v4(a), port);
  }
  boost::asio::ip::address_v6::bytes_type a;
  for (std::size_t i = 0; i < 16; ++i) a[i] = v[4 + i] ^ (mask ? mask[i] : 0);
  return Endpoint(boost::asio::ip::address_v6(a), port);
}

// The XOR mask: magic cookie then transaction id (RFC 5389 §15.2).
std::array<std::uint8_t, 16> xor_mask(const TransactionId& id) {
  std::array<std::uint8_t, 16> m{0x21, 0x12, 0xA4, 0x42};
  std::copy(id.begin(), id.end(), m.begin() + 4);
  return m;
}

Bytes hmac_sha1(ByteView key, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

}  // namespace

bool is_known_attribute(std::uint16_t t) {
  switch (t) {
    case attr::mapped_address:
    case attr::change_request:
    case attr::username:
    case attr::message_integrity:
    case attr::error_code:
    case attr::unknown_attributes:
    case attr::realm:
    case attr::nonce:
    case attr::message_integrity_sha256:
    case attr::xor_mapped_address:
    case attr::padding:
    case attr::response_port:
    case attr::software:
    case attr::alternate_server:
    case attr::fingerprint:
    case attr::response_origin:
    case attr::other_address:
      return true;
    default:
      return false;
  }
}

const Attribute* Message::find(std::uint16_t type) const {
  for (const auto& a : attributes)
    if (a.type == type) return &a;
  return nullptr;
}

std::vector<std::uint16_t> Message::unknown_comprehension_required() const {
  std::vector<std::uint16_t> out;
  for (const auto& a : attributes)
    if (a.type < 0x8000 && !is_known_attribute(a.type) && std::find(out.begin(), out.end(), a.type) == out.end())
      out.push_back(a.type);
  return out;
}

FrameLength frame_length(ByteView h) {
  if (h.size() < kHeaderSize) return {0, fmt::format("truncated header ({} bytes, need {})", h.size(), kHeaderSize)};
  if (h[0] & 0xC0) return {0, "not a STUN message (first two bits set)"};
  std::uint16_t len = get16(h, 2);
  if (len % 4) return {0, fmt::format("message length {} is not a multiple of 4", len)};
  if (get32(h, 4) != kMagicCookie) return {0, fmt::format("wrong magic cookie 0x{:08x}", get32(h, 4))};
  return {kHeaderSize + len, {}};
}

ParseResult parse(ByteView data) {
  ParseResult r;
  auto frame = frame_length(data);
  if (!frame.error.empty()) {
    r.error = frame.error;
    return r;
  }
  if (frame.total != data.size()) {
    r.error = fmt::format("message length {} disagrees with the {} bytes received", frame.total - kHeaderSize,
                          data.size() - kHeaderSize);
    return r;
  }
  Message m;
  std::uint16_t type = get16(data, 0);
  m.cls = static_cast<MessageClass>(((type >> 4) & 1) | ((type >> 7) & 2));
  m.method = static_cast<std::uint16_t>((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
  std::copy(data.begin() + 8, data.begin() + 20, m.transaction_id.begin());
  m.raw.assign(data.begin(), data.end());

  std::size_t pos = kHeaderSize;
  bool after_fingerprint = false;
  while (pos < data.size()) {
    if (after_fingerprint) {
      r.error = fmt::format("attribute at offset {} follows FINGERPRINT", pos);
      return r;
    }
    if (pos + 4 > data.size()) {
      r.error = fmt::format("truncated attribute header at offset {}", pos);
      return r;
    }
    std::uint16_t at = get16(data, pos), len = get16(data, pos + 2);
    if (pos + 4 + padded(len) > data.size()) {
      r.error =
          fmt::format("attribute 0x{:04x} at offset {} (length {}) runs past the end of the message", at, pos, len);
      return r;
    }
    ByteView value = data.subspan(pos + 4, len);
    if (auto bad = check_value(at, value); !bad.empty()) {
      r.error = fmt::format("attribute 0x{:04x} at offset {}: {}", at, pos, bad);
      return r;
    }
    if (at == attr::fingerprint) {
      std::uint32_t want = crc32(data.first(pos)) ^ kFingerprintXor;
      if (get32(value, 0) != want) {
        r.error = fmt::format("bad FINGERPRINT 0x{:08x} (computed 0x{:08x})", get32(value, 0), want);
        return r;
      }
      m.fingerprint_verified = true;
      after_fingerprint = true;
    }
    // After MESSAGE-INTEGRITY only FINGERPRINT (and MI-SHA256) count.
    bool ignored = m.integrity_offset && at != attr::fingerprint && at != attr::message_integrity_sha256;
    if (!ignored) {
      if (at == attr::message_integrity) m.integrity_offset = pos;
      m.attributes.push_back(Attribute{at, pos, Bytes(value.begin(), value.end())});
    }
    pos += 4 + padded(len);
  }
  r.message = std::move(m);
  return r;
}

std::optional<Endpoint> read_address(const Attribute& a) { return decode_address(a.value, nullptr); }

std::optional<Endpoint> read_xor_address(const Attribute& a, const TransactionId& id) {
  auto mask = xor_mask(id);
  return decode_address(a.value, mask.data());
}

std::optional<ErrorCode> read_error_code(const Attribute& a) {
  if (!check_value(attr::error_code, a.value).empty()) return std::nullopt;
  return ErrorCode{(a.value[2] & 0x07) * 100 + a.value[3], std::string(a.value.begin() + 4, a.value.end())};
}

std::optional<ChangeRequest> read_change_request(const Attribute& a) {
  if (a.value.size() != 4) return std::nullopt;
  return ChangeRequest{(a.value[3] & 0x04) != 0, (a.value[3] & 0x02) != 0};
}

std::optional<std::uint16_t> read_response_port(const Attribute& a) {
  if (a.value.size() != 4) return std::nullopt;
  return get16(a.value, 0);
}

std::vector<std::uint16_t> read_unknown_attributes(const Attribute& a) {
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i + 1 < a.value.size(); i += 2) out.push_back(get16(a.value, i));
  return out;
}

std::string read_string(const Attribute& a) { return std::string(a.value.begin(), a.value.end()); }

Builder::Builder(std::uint16_t method, MessageClass cls, const TransactionId& id) : id_(id) {
  put16(message_type(method, cls));
  put16(0);
  put32(kMagicCookie);
  buf_.insert(buf_.end(), id.begin(), id.end());
}

void Builder::put16(std::uint16_t v) {
  buf_.push_back(static_cast<std::uint8_t>(v >> 8));
  buf_.push_back(static_cast<std::uint8_t>(v));
}
void Builder::put32(std::uint32_t v) {
  put16(static_cast<std::uint16_t>(v >> 16));
  put16(static_cast<std::uint16_t>(v));
}
void Builder::set_length(std::size_t body) {
  buf_[2] = static_cast<std::uint8_t>(body >> 8);
  buf_[3] = static_cast<std::uint8_t>(body);
}

Builder& Builder::add(std::uint16_t type, ByteView value) {
  put16(type);
  put16(static_cast<std::uint16_t>(value.size()));
  buf_.insert(buf_.end(), value.begin(), value.end());
  buf_.resize(kHeaderSize + padded(buf_.size() - kHeaderSize), 0);
  set_length(buf_.size() - kHeaderSize);
  return *this;
}

Builder& Builder::add_string(std::uint16_t type, std::string_view s) {
  return add(type, ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

Builder& Builder::add_address(std::uint16_t type, const Endpoint& ep) {
  Bytes v{0, static_cast<std::uint8_t>(ep.address().is_v4() ? 1 : 2), static_cast<std::uint8_t>(ep.port() >> 8),
          static_cast<std::uint8_t>(ep.port())};
  if (ep.address().is_v4()) {
    auto b = ep.address().to_v4().to_bytes();
    v.insert(v.end(), b.begin(), b.end());
  } else {
    auto b = ep.address().to_v6().to_bytes();
    v.insert(v.end(), b.begin(), b.end());
  }
  return add(type, v);
}

Builder& Builder::add_xor_address(std::uint16_t type, const Endpoint& ep) {
  auto before = buf_.size();
  add_address(type, ep);
  auto mask = xor_mask(id_);
  std::uint8_t* v = buf_.data() + before + 4;
  v[2] ^= mask[0];
  v[3] ^= mask[1];
  std::size_t n = ep.address().is_v4() ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) v[4 + i] ^= mask[i];
  return *this;
}

Builder& Builder::add_error_code(int code, std::string_view reason) {
  Bytes v{0, 0, static_cast<std::uint8_t>(code / 100), static_cast<std::uint8_t>(code % 100)};
  v.insert(v.end(), reason.begin(), reason.end());
  return add(attr::error_code, v);
}

Builder& Builder::add_change_request(bool change_ip, bool change_port) {
  Bytes v{0, 0, 0, static_cast<std::uint8_t>((change_ip ? 0x04 : 0) | (change_port ? 0x02 : 0))};
  return add(attr::change_request, v);
}

Builder& Builder::add_response_port(std::uint16_t port) {
  Bytes v{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port), 0, 0};
  return add(attr::response_port, v);
}

Builder& Builder::add_unknown_attributes(const std::vector<std::uint16_t>& types) {
  Bytes v;
  for (auto t : types) {
    v.push_back(static_cast<std::uint8_t>(t >> 8));
    v.push_back(static_cast<std::uint8_t>(t));
  }
  return add(attr::unknown_attributes, v);
}

Builder& Builder::add_message_integrity(ByteView key) {
  // The length covers the MESSAGE-INTEGRITY attribute itself while hashing.
  set_length(buf_.size() - kHeaderSize + 24);
  auto mac = hmac_sha1(key, buf_);
  return add(attr::message_integrity, mac);
}

Builder& Builder::add_fingerprint() {
  set_length(buf_.size() - kHeaderSize + 8);
  std::uint32_t crc = crc32(buf_) ^ kFingerprintXor;
  Bytes v{static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
          static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
  return add(attr::fingerprint, v);
}

Bytes short_term_key(std::string_view password) { return Bytes(password.begin(), password.end()); }

Bytes long_term_key(std::string_view username, std::string_view realm, std::string_view password) {
  std::string joined = std::string(username) + ":" + std::string(realm) + ":" + std::string(password);
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  EVP_Digest(joined.data(), joined.size(), out.data(), &len, EVP_md5(), nullptr);
  out.resize(len);
  return out;
}

bool verify_message_integrity(const Message& m, ByteView key) {
  if (!m.integrity_offset) return false;
  std::size_t at = *m.integrity_offset;
  if (at + 24 > m.raw.size()) return false;
  Bytes covered(m.raw.begin(), m.raw.begin() + static_cast<std::ptrdiff_t>(at));
  std::size_t body = at - kHeaderSize + 24;
  covered[2] = static_cast<std::uint8_t>(body >> 8);
  covered[3] = static_cast<std::uint8_t>(body);
  auto mac = hmac_sha1(key, covered);
  return mac.size() == 20 && CRYPTO_memcmp(mac.data(), m.raw.data() + at + 4, 20) == 0;
}

// CRC-32 of ISO 3309 / ITU-T V.42 (RFC 5389 FINGERPRINT), from Boost.CRC.
std::uint32_t crc32(ByteView data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

TransactionId random_transaction_id() {
  TransactionId id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
    // RAND_bytes failing means no entropy source; fall back to something unique per call.
    static std::uint64_t counter = 0;
    auto n = ++counter;
    std::memcpy(id.data(), &n, sizeof n);
  }
  return id;
}

std::string to_string(const Endpoint& ep) { return net::format_host_port(ep.address(), ep.port()); }

}  // namespace callready::checks::stun
