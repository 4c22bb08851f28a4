#pragma once
// The trust anchors the TLS clients of the checks (tls, http) verify against:
// the system's default CA bundle, plus the check's ca_file when it has one. Loading the system bundle
// parses every root (~140 certificates) and took most of a short check's
// time when each handshake's context loaded its own; one store per
// (ca_file, file versions) is now built once per process and shared by every
// context and chain walk (OpenSSL stores are reference-counted and safe to
// share). A changed CA file or system bundle (a long-running exporter) gets a
// fresh store: the key holds their modification times and sizes.
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

namespace callready::checks {

struct X509StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using TrustStore = std::unique_ptr<X509_STORE, X509StoreFree>;

struct TrustStoreResult {
  TrustStore store;   // a new reference: the caller owns it (set1/get0 as OpenSSL wants)
  std::string error;  // set when ca_file could not be loaded (store is null)
};

TrustStoreResult trust_store(const std::string& ca_file);

}  // namespace callready::checks
