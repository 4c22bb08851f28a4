// The tls check's trust anchors: one store per CA file version, shared by
// every handshake and chain walk, rebuilt when the file changes.
#include "checks/common/trust_store.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

using namespace callready::checks;

namespace {

struct SelfSigned {
  X509* cert = X509_new();
  explicit SelfSigned(const char* cn) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    EVP_PKEY_free(key);
  }
  ~SelfSigned() { X509_free(cert); }
  void write(const std::string& path) const {
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
};

bool anchored(X509_STORE* store, X509* cert) {
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = X509_STORE_CTX_init(ctx, store, cert, nullptr) == 1;
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);  // the bundle holds expired roots too
  ok = ok && X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  return ok;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("callready-trust-") + name)).string();
}

}  // namespace

TEST_CASE("the system store is built once and shared") {
  auto a = trust_store("");
  auto b = trust_store("");
  REQUIRE(a.store);
  CHECK(a.error.empty());
  CHECK(a.store.get() == b.store.get());
}

TEST_CASE("the system store anchors what the whole bundle file anchors") {
  // Found through the hashed directory when it mirrors the bundle: the same
  // answers as loading the whole file, root by root.
  FILE* f = std::fopen(X509_get_default_cert_file(), "r");
  if (!f) return;  // no CA bundle installed: nothing to compare
  auto store = trust_store("");
  REQUIRE(store.store);
  TrustStore whole_file(X509_STORE_new());
  REQUIRE(X509_STORE_load_file(whole_file.get(), X509_get_default_cert_file()) == 1);
  int roots = 0, anchors = 0;
  while (X509* root = PEM_read_X509(f, nullptr, nullptr, nullptr)) {
    CAPTURE(roots);
    bool expected = anchored(whole_file.get(), root);
    CHECK(anchored(store.store.get(), root) == expected);
    anchors += expected;
    X509_free(root);
    ++roots;
  }
  std::fclose(f);
  CHECK(anchors > roots / 2);
}

TEST_CASE("a CA file's roots are anchors, and a changed file gets a new store") {
  std::string path = temp_path(std::to_string(::getpid()).c_str());
  SelfSigned first("first root"), second("second root, a longer name");
  first.write(path);
  auto a = trust_store(path);
  REQUIRE(a.store);
  CHECK(anchored(a.store.get(), first.cert));
  CHECK_FALSE(anchored(a.store.get(), second.cert));
  CHECK(trust_store(path).store.get() == a.store.get());
  CHECK(trust_store("").store.get() != a.store.get());

  second.write(path);  // another size: another version even within one mtime tick
  auto b = trust_store(path);
  REQUIRE(b.store);
  CHECK(b.store.get() != a.store.get());
  CHECK(anchored(b.store.get(), second.cert));
  CHECK(anchored(a.store.get(), first.cert));  // the old store lives on while held
  std::filesystem::remove(path);
}

TEST_CASE("an unreadable CA file is an error that names it") {
  auto r = trust_store("/nonexistent/callready-ca.pem");
  CHECK_FALSE(r.store);
  CHECK(r.error.find("/nonexistent/callready-ca.pem") != std::string::npos);
}
