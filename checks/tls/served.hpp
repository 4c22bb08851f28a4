#pragma once
// Every certificate a server serves. A server may hold one certificate per
// key type (nginx and OpenSSL pick RSA, ECDSA or EdDSA by what the client
// offers), and a client that only does RSA gets the RSA one however good the
// ECDSA one is. So besides the check's own handshake, one handshake per key
// family and version offers only that family's signature algorithms (and, up
// to TLS 1.2, only suites authenticated by it); each distinct certificate is
// then judged on its own.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "checks/tls/certs.hpp"
#include "checks/tls/suites.hpp"
#include "checks/tls/wire.hpp"
#include "probe/check.hpp"

namespace callready::checks::tls {

struct ServedCertificate {
  CertInfo leaf;
  std::vector<CertInfo> chain;  // as presented, leaf first
  ChainVerdict verdict;
  std::vector<std::string> offers;  // the offers it answered: "any", "RSA, TLS 1.2", ...
};
void to_json(nlohmann::json& j, const ServedCertificate& c);

struct KeyFamily {
  const char* name;         // "RSA", "ECDSA", "EdDSA"
  const char* cipher_list;  // suites authenticated by this key type (TLS 1.2 and below)
  const char* sigalgs;      // signature algorithms of this key type
};
const std::vector<KeyFamily>& key_families();
// "ECDSA" for key type "EC", and so on: how a person names the certificate.
std::string key_family_of(const CertInfo& leaf);

// Adds the certificate `hs` was shown to `served`, or the offer to the entry
// already holding that certificate. Nothing when no certificate was shown.
void add_served(std::vector<ServedCertificate>& served, const HandshakeResult& hs, const std::string& offer,
                const std::string& server_name, const std::string& ca_file);

struct ServedProbe {
  std::string offer;  // "RSA, TLS 1.3"
  HandshakeOptions options;
};
// One probe per key family for each of `versions` that is TLS 1.2 or 1.3 (the
// versions with signature_algorithms); with neither, one per family at the
// highest version given, told apart by suites alone.
std::vector<ServedProbe> served_probes(const HandshakeOptions& base, const std::vector<TlsVersion>& versions);

// Runs the probes against `ep`, at most `parallel` at a time, each in its own
// connection within the check's budget; returns what each handshake saw (in
// probe order; probes that could not connect give a result without
// certificates). `connections` counts the connections made.
boost::asio::awaitable<std::vector<HandshakeResult>> run_served_probes(tcp::endpoint ep,
                                                                       const std::vector<ServedProbe>& probes,
                                                                       int parallel, CheckContext& ctx,
                                                                       int& connections);

}  // namespace callready::checks::tls
