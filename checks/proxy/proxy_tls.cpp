#include "checks/proxy/proxy_tls.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "checks/proxy/proxy_http.hpp"

namespace callready::checks::proxy {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string hex(const unsigned char* data, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

std::string decode_base64(const std::string& text) {
  std::string out(text.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  auto pad = std::count(text.end() - std::min<std::size_t>(2, text.size()), text.end(), '=');
  out.resize(static_cast<std::size_t>(n) - static_cast<std::size_t>(pad));
  return out;
}

}  // namespace

std::string spki_sha256_hex(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(der, static_cast<std::size_t>(len), digest.data());
  OPENSSL_free(der);
  return hex(digest.data(), digest.size());
}

std::string normalise_pin(const std::string& text) {
  if (text.starts_with("sha256/")) {
    auto raw = decode_base64(text.substr(7));
    if (raw.size() != SHA256_DIGEST_LENGTH) return {};
    return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  }
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out.size() == 2 * SHA256_DIGEST_LENGTH ? out : std::string();
}

std::string name_of(X509_NAME* name) {
  if (!name) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string common_name_of(X509_NAME* name) {
  int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  if (i < 0) return name_of(name);
  auto* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return name_of(name);
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::vector<ChainCert> describe_chain(SSL* ssl) {
  std::vector<ChainCert> out;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);  // the client side holds the leaf first
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    out.push_back({name_of(X509_get_subject_name(c)), name_of(X509_get_issuer_name(c)),
                   common_name_of(X509_get_issuer_name(c)), spki_sha256_hex(c)});
  }
  return out;
}

bool chain_has_issuer(const std::vector<ChainCert>& chain, const std::vector<std::string>& expected) {
  for (const auto& e : expected) {
    auto pin = normalise_pin(e);
    for (const auto& c : chain) {
      if (!pin.empty() && c.spki_sha256 == pin) return true;
      if (iequals(c.issuer_cn, e) || iequals(c.issuer, e) || iequals(c.subject, e)) return true;
    }
  }
  return false;
}

namespace {
std::weak_ptr<EchoIdentity> made;
}  // namespace

std::string served_echo_pin() {
  auto live = made.lock();
  return live ? live->pin : std::string();
}

std::shared_ptr<EchoIdentity> echo_identity(std::string& error) {
  if (auto existing = made.lock()) return existing;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!key || !cert) {
    error = "cannot make the HTTPS echo's key";
    return nullptr;
  }
  X509_set_version(cert.get(), 2);
  std::array<unsigned char, 16> serial{};
  RAND_bytes(serial.data(), serial.size());
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial.data(), serial.size(), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 365);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("callready HTTPS echo"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    error = "cannot sign the HTTPS echo's certificate";
    return nullptr;
  }
  auto identity = std::make_shared<EchoIdentity>();
  SSL_CTX* ctx = identity->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    error = "cannot load the HTTPS echo's certificate";
    return nullptr;
  }
  identity->pin = spki_sha256_hex(cert.get());
  made = identity;
  return identity;
}

}  // namespace callready::checks::proxy
