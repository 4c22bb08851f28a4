#include "checks/tls/hello.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace callready::checks::tls {

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string last_ssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown libssl error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool is_scsv(std::uint16_t code) { return code == 0x00FF || code == 0x5600; }

// Offsets of the cipher-suite vector inside a ClientHello record.
struct HelloLayout {
  std::size_t suites_len_at = 0;  // offset of the 2-byte length
  std::size_t suites_len = 0;
};

std::optional<HelloLayout> layout_of(const Bytes& h) {
  // record header 5, handshake header 4, version 2, random 32
  if (h.size() < 5 + 4 + 2 + 32 + 1 || h[0] != 22 || h[5] != 1) return std::nullopt;
  std::size_t p = 5 + 4 + 2 + 32;
  p += 1 + h[p];  // session id
  if (p + 2 > h.size()) return std::nullopt;
  HelloLayout l{p, static_cast<std::size_t>(h[p] << 8 | h[p + 1])};
  if (p + 2 + l.suites_len > h.size()) return std::nullopt;
  return l;
}

void put16(Bytes& b, std::size_t at, std::size_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

std::size_t get16(const Bytes& b, std::size_t at) { return static_cast<std::size_t>(b[at] << 8 | b[at + 1]); }

// The record and handshake lengths after the body changed size.
void fix_lengths(Bytes& hello) {
  std::size_t hs_len = hello.size() - 9;
  hello[6] = static_cast<std::uint8_t>(hs_len >> 16);
  put16(hello, 7, hs_len);
  put16(hello, 3, hello.size() - 5);
}

constexpr std::uint16_t kPaddingExtension = 21;

// Offset of the extensions' 2-byte length, when the hello has extensions
// that fill it exactly to its end.
std::optional<std::size_t> extensions_at(const Bytes& h, const HelloLayout& l) {
  std::size_t p = l.suites_len_at + 2 + l.suites_len;
  if (p + 1 > h.size()) return std::nullopt;
  p += 1 + h[p];  // compression methods
  if (p + 2 > h.size() || p + 2 + get16(h, p) != h.size()) return std::nullopt;
  return p;
}

}  // namespace

std::optional<Bytes> client_hello_template(TlsVersion v, const std::string& sni, std::string* error) {
  auto fail = [&](std::string what) -> std::optional<Bytes> {
    if (error) *error = what + ": " + last_ssl_error();
    return std::nullopt;
  };
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail("SSL_CTX_new");
  SSL_CTX_set_security_level(ctx.get(), 0);
  int ver = static_cast<int>(v);
  if (!SSL_CTX_set_min_proto_version(ctx.get(), ver) || !SSL_CTX_set_max_proto_version(ctx.get(), ver))
    return fail("set protocol version");
  SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
  SSL_CTX_set_ciphersuites(ctx.get(),
                           "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
                           "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256");
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return fail("SSL_new");
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
  SSL_do_handshake(ssl.get());  // writes the ClientHello, then wants to read
  char* data = nullptr;
  long n = BIO_get_mem_data(wbio, &data);
  if (n <= 0) return fail("ClientHello for " + std::string(version_label(v)));
  Bytes out(data, data + n);
  ERR_clear_error();
  if (!layout_of(out)) {
    if (error) *error = "libssl wrote an unexpected ClientHello";
    return std::nullopt;
  }
  return out;
}

Bytes with_cipher_suites(const Bytes& hello, const std::vector<std::uint16_t>& suites) {
  auto l = layout_of(hello);
  if (!l) return {};
  std::vector<std::uint16_t> list = suites;
  std::size_t start = l->suites_len_at + 2;
  for (std::size_t i = 0; i + 1 < l->suites_len; i += 2) {
    std::uint16_t code = static_cast<std::uint16_t>(hello[start + i] << 8 | hello[start + i + 1]);
    if (is_scsv(code) && std::find(list.begin(), list.end(), code) == list.end()) list.push_back(code);
  }
  Bytes out(hello.begin(), hello.begin() + static_cast<long>(start));
  for (auto c : list) {
    out.push_back(static_cast<std::uint8_t>(c >> 8));
    out.push_back(static_cast<std::uint8_t>(c));
  }
  out.insert(out.end(), hello.begin() + static_cast<long>(start + l->suites_len), hello.end());
  put16(out, l->suites_len_at, list.size() * 2);
  fix_lengths(out);
  return with_middlebox_padding(out);
}

std::size_t hello_message_length(const Bytes& hello) { return layout_of(hello) ? hello.size() - 5 : 0; }

Bytes with_middlebox_padding(const Bytes& hello) {
  auto l = layout_of(hello);
  if (!l) return {};
  auto ext_at = extensions_at(hello, *l);
  if (!ext_at) return hello;  // no extensions block to add to: leave it as libssl made it
  // Drop an earlier padding extension, so the length is the unpadded one.
  Bytes out(hello.begin(), hello.begin() + static_cast<long>(*ext_at + 2));
  for (std::size_t p = *ext_at + 2; p + 4 <= hello.size();) {
    std::size_t len = get16(hello, p + 2);
    if (p + 4 + len > hello.size()) return {};
    if (get16(hello, p) != kPaddingExtension)
      out.insert(out.end(), hello.begin() + static_cast<long>(p), hello.begin() + static_cast<long>(p + 4 + len));
    p += 4 + len;
  }
  std::size_t message = out.size() - 5;
  if (message >= 256 && message < 512) {
    std::size_t fill = 512 - message >= 4 ? 512 - message - 4 : 0;
    out.push_back(0);
    out.push_back(kPaddingExtension);
    out.push_back(static_cast<std::uint8_t>(fill >> 8));
    out.push_back(static_cast<std::uint8_t>(fill));
    out.insert(out.end(), fill, 0);
  }
  put16(out, *ext_at, out.size() - *ext_at - 2);
  fix_lengths(out);
  return out;
}

std::vector<std::uint16_t> offered_suites(const Bytes& hello) {
  std::vector<std::uint16_t> out;
  auto l = layout_of(hello);
  if (!l) return out;
  std::size_t start = l->suites_len_at + 2;
  for (std::size_t i = 0; i + 1 < l->suites_len; i += 2)
    out.push_back(static_cast<std::uint16_t>(hello[start + i] << 8 | hello[start + i + 1]));
  return out;
}

ServerReply ReplyParser::feed(const std::uint8_t* data, std::size_t size) {
  buf_.insert(buf_.end(), data, data + size);
  ServerReply r;
  static const char kHttp[] = "HTTP/";
  while (!buf_.empty()) {
    std::uint8_t type = buf_[0];
    if (type < 20 || type > 23) {
      std::size_t n = std::min<std::size_t>(buf_.size(), 5);
      if (std::memcmp(buf_.data(), kHttp, n) != 0) {
        r.kind = ServerReply::Kind::not_tls;
        return r;
      }
      if (n == 5) r.kind = ServerReply::Kind::plain_http;
      return r;  // pending while the prefix could still be "HTTP/"
    }
    if (buf_.size() >= 2 && buf_[1] != 3) {
      r.kind = ServerReply::Kind::not_tls;
      return r;
    }
    if (buf_.size() < 5) return r;
    std::size_t len = static_cast<std::size_t>(buf_[3] << 8 | buf_[4]);
    if (len == 0 || len > 16384 + 2048) {
      r.kind = ServerReply::Kind::not_tls;
      return r;
    }
    if (buf_.size() < 5 + len) return r;
    if (type == 21) {
      r.kind = len >= 2 ? ServerReply::Kind::alert : ServerReply::Kind::not_tls;
      r.alert = len >= 2 ? buf_[6] : 0;
      return r;
    }
    if (type != 22) {  // change_cipher_spec or application data before a ServerHello
      r.kind = ServerReply::Kind::not_tls;
      return r;
    }
    hs_.insert(hs_.end(), buf_.begin() + 5, buf_.begin() + static_cast<long>(5 + len));
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(5 + len));
    if (hs_.size() >= 4) {
      if (hs_[0] != 2) {
        r.kind = ServerReply::Kind::not_tls;
        return r;
      }
      std::size_t hs_len = static_cast<std::size_t>(hs_[1] << 16 | hs_[2] << 8 | hs_[3]);
      if (hs_.size() >= 4 + hs_len) return parse_server_hello();
    }
  }
  return r;
}

ServerReply ReplyParser::parse_server_hello() const {
  static const std::uint8_t kHrrRandom[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
                                              0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
                                              0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
  ServerReply r;
  r.kind = ServerReply::Kind::not_tls;
  const Bytes& h = hs_;
  std::size_t end = 4 + static_cast<std::size_t>(h[1] << 16 | h[2] << 8 | h[3]);
  std::size_t p = 4;
  if (p + 2 + 32 + 1 > end) return r;
  std::uint16_t version = static_cast<std::uint16_t>(h[p] << 8 | h[p + 1]);
  bool hrr = std::memcmp(&h[p + 2], kHrrRandom, 32) == 0;
  p += 2 + 32;
  p += 1 + h[p];
  if (p + 3 > end) return r;
  std::uint16_t cipher = static_cast<std::uint16_t>(h[p] << 8 | h[p + 1]);
  p += 3;  // cipher + compression method
  if (p + 2 <= end) {
    std::size_t ext_end = std::min(end, p + 2 + static_cast<std::size_t>(h[p] << 8 | h[p + 1]));
    p += 2;
    while (p + 4 <= ext_end) {
      std::uint16_t type = static_cast<std::uint16_t>(h[p] << 8 | h[p + 1]);
      std::size_t len = static_cast<std::size_t>(h[p + 2] << 8 | h[p + 3]);
      p += 4;
      if (p + len > ext_end) break;
      if (type == 0x002b && len == 2) version = static_cast<std::uint16_t>(h[p] << 8 | h[p + 1]);
      p += len;
    }
  }
  r.kind = ServerReply::Kind::server_hello;
  r.version = version;
  r.cipher = cipher;
  r.hello_retry = hrr;
  return r;
}

std::string alert_name(std::uint8_t d) {
  switch (d) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 22:
      return "record_overflow";
    case 40:
      return "handshake_failure";
    case 42:
      return "bad_certificate";
    case 43:
      return "unsupported_certificate";
    case 44:
      return "certificate_revoked";
    case 45:
      return "certificate_expired";
    case 46:
      return "certificate_unknown";
    case 47:
      return "illegal_parameter";
    case 48:
      return "unknown_ca";
    case 49:
      return "access_denied";
    case 50:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case 70:
      return "protocol_version";
    case 71:
      return "insufficient_security";
    case 80:
      return "internal_error";
    case 86:
      return "inappropriate_fallback";
    case 90:
      return "user_canceled";
    case 109:
      return "missing_extension";
    case 110:
      return "unsupported_extension";
    case 112:
      return "unrecognized_name";
    case 116:
      return "certificate_required";
    case 120:
      return "no_application_protocol";
  }
  return "alert " + std::to_string(d);
}

}  // namespace callready::checks::tls
