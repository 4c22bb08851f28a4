#pragma once
// The `tls` check: versions, every accepted suite (in server order when the
// server enforces one), the certificate chain, an optional cipher policy,
// TLS-inspection detection, mutual TLS and SNI behaviour for one host:port.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "checks/tls/suites.hpp"
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
  std::string policy;  // empty: none
  std::vector<std::string> expected_issuers;
  std::string client_cert, client_key;
  bool sni = true;
  std::vector<TlsVersion> versions;

  static TlsParams parse(ParamReader& r);
  std::string target() const;
};

boost::asio::awaitable<CheckOutcome> run_tls_check(TlsParams p, CheckContext& ctx);

}  // namespace tls

CheckKind tls_check_kind();

}  // namespace callready::checks
