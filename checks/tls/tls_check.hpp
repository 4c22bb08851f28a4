#pragma once
// The `tls` check: versions, every accepted suite (in server order when the
// server enforces one), the certificate chain, an optional cipher policy
// (data from the profile), TLS-inspection detection, mutual TLS and SNI
// behaviour for one host:port. measure_tls talks to the server; judge_tls
// decides from the result alone; tls_view draws the details.
#include <boost/asio/awaitable.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "checks/tls/certs.hpp"
#include "checks/tls/policy.hpp"
#include "checks/tls/scan.hpp"
#include "checks/tls/served.hpp"
#include "checks/tls/suites.hpp"
#include "checks/tls/wire.hpp"
#include "probe/check.hpp"

namespace callready::checks {

namespace tls {

struct TlsParams {
  std::string host;
  std::uint16_t port = 443;
  std::string server_name;  // SNI and the name the certificate must match
  std::string ca_file;
  int max_parallel = 16;
  int pace_ms = 0;
  std::optional<Policy> policy;  // none: no cipher policy
  std::vector<std::string> expected_issuers;
  std::string client_cert, client_key;
  bool sni = true;
  std::vector<TlsVersion> versions;

  static TlsParams parse(ParamReader& r);
  std::string target() const;
};

// The one complete handshake (certificate, client-certificate request, trust).
struct HandshakeFacts {
  Failure failure = Failure::none;
  std::string message;
  std::string version, cipher;  // negotiated, when it completed
  bool got_server_bytes = false;
  Millis waited{0};  // the time it was given
};

struct TlsResult {
  std::string host;
  std::uint16_t port = 0;
  std::string server_name;
  bool sni_sent = true;
  std::string where;  // host:port, then the address:port that took the connection

  checks::TargetAddresses target;           // what resolving the host gave
  std::string address;                      // the one connected to (or the first tried)
  Failure connect_failure = Failure::none;  // none once a connection was made
  std::vector<std::string> connect_errors;  // "address:port: why", one per address tried

  std::optional<HandshakeFacts> handshake;
  // The certificate of the check's own handshake (the contract's `certificate`).
  std::optional<CertInfo> leaf;
  std::vector<CertInfo> chain;  // as presented, leaf first
  ChainVerdict chain_verdict;
  // Every distinct certificate served (the one above first), each with the
  // offers that got it; empty when only the one above is known.
  std::vector<ServedCertificate> certificates;
  std::optional<bool> expected_issuer_seen;  // when expected issuers were given
  bool cert_requested = false;
  std::vector<std::string> client_ca_names;
  std::optional<bool> client_cert_accepted;  // when a client certificate was given
  std::optional<bool> sni_required;          // when the check sent no SNI

  bool scanned = false;  // the suite enumeration ran
  std::vector<TlsVersion> versions_asked;
  std::map<TlsVersion, VersionResult> versions;
  bool out_of_time = false;
  std::vector<std::string> untestable;  // versions without a ClientHello, policy suites not in the catalogue
  int connections_used = 0;

  std::optional<Policy> policy;  // what the suites were judged against (its verdicts go into details)
};

void to_json(nlohmann::json& j, const TlsResult& r);

boost::asio::awaitable<Measured<TlsResult>> measure_tls(TlsParams p, CheckContext& ctx);
Judgement judge_tls(const TlsResult& r, const TlsParams& p);
view::View tls_view(const nlohmann::json& details);

}  // namespace tls

CheckKind tls_check_kind();

}  // namespace callready::checks
