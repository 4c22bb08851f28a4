#include "checks/tls/suites.hpp"

#include <openssl/ssl.h>

#include <cstdio>
#include <map>

namespace callready::checks::tls {

const char* version_key(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls1_0:
      return "tls1.0";
    case TlsVersion::tls1_1:
      return "tls1.1";
    case TlsVersion::tls1_2:
      return "tls1.2";
    case TlsVersion::tls1_3:
      return "tls1.3";
  }
  return "?";
}

const char* version_label(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls1_0:
      return "TLS 1.0";
    case TlsVersion::tls1_1:
      return "TLS 1.1";
    case TlsVersion::tls1_2:
      return "TLS 1.2";
    case TlsVersion::tls1_3:
      return "TLS 1.3";
  }
  return "?";
}

std::optional<TlsVersion> version_from_key(const std::string& key) {
  for (auto v : kAllVersions)
    if (key == version_key(v)) return v;
  return std::nullopt;
}

namespace {

// Suites Debian's libssl 3.0 cannot offer (built without them), by IANA
// registry name. All date from SSL 3.0 / TLS 1.0, so they are valid from 1.0.
struct LegacyEntry {
  std::uint16_t code;
  const char* name;
};
constexpr LegacyEntry kLegacy[] = {
    {0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
    {0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
    {0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
    {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
    {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
    {0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
    {0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
    {0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
    {0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"},
    {0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"},
    {0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"},
    {0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"},
    {0x008A, "TLS_PSK_WITH_RC4_128_SHA"},
    {0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"},
    {0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
    {0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"},
    {0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
    {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
    {0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
    {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
    {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
    {0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"},
};

TlsVersion min_version_of(const SSL_CIPHER* c) {
  std::string v = SSL_CIPHER_get_version(c);
  if (v == "TLSv1.3") return TlsVersion::tls1_3;
  if (v == "TLSv1.2") return TlsVersion::tls1_2;
  return TlsVersion::tls1_0;  // "SSLv3", "TLSv1.0"
}

std::vector<Suite> build_catalogue() {
  std::vector<Suite> out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx) {
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
    SSL_CTX_set_ciphersuites(ctx,
                             "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
                             "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256");
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
      Suite s;
      s.code = static_cast<std::uint16_t>(SSL_CIPHER_get_protocol_id(c));
      const char* name = SSL_CIPHER_standard_name(c);
      s.name = name ? name : SSL_CIPHER_get_name(c);
      s.min_version = min_version_of(c);
      s.tls13 = s.min_version == TlsVersion::tls1_3;
      out.push_back(std::move(s));
    }
    SSL_CTX_free(ctx);
  }
  for (const auto& e : kLegacy) {
    bool known = false;
    for (const auto& s : out) known = known || s.code == e.code;
    if (!known) out.push_back(Suite{e.code, e.name, TlsVersion::tls1_0, false, false});
  }
  return out;
}

}  // namespace

const std::vector<Suite>& suite_catalogue() {
  static const std::vector<Suite> catalogue = build_catalogue();
  return catalogue;
}

std::vector<Suite> suites_for(TlsVersion v) {
  std::vector<Suite> out;
  for (const auto& s : suite_catalogue()) {
    bool usable = v == TlsVersion::tls1_3 ? s.tls13 : (!s.tls13 && s.min_version <= v);
    if (usable) out.push_back(s);
  }
  return out;
}

const Suite* find_suite(std::uint16_t code) {
  for (const auto& s : suite_catalogue())
    if (s.code == code) return &s;
  return nullptr;
}

const Suite* find_suite(const std::string& iana_name) {
  for (const auto& s : suite_catalogue())
    if (s.name == iana_name) return &s;
  return nullptr;
}

std::string suite_name(std::uint16_t code) {
  if (const Suite* s = find_suite(code)) return s->name;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", code);
  return buf;
}

}  // namespace callready::checks::tls
