#pragma once
// `http`: GET (or HEAD) one URL at every address behind its host, the way a
// client that fails over between addresses uses it: redirects are never
// followed, each address gets up to `tries` attempts, and an address whose
// every attempt ended in a 5xx, a network error, a timeout or an answer slower
// than `max_ttfb_ms` is one such a client would give up on. Per address:
// status, time to first byte, TLS version, the Server header, the Date
// header's offset from this machine's clock, whether the server asked for a
// client certificate and which CAs it named, the redirect's Location.
// Reads are bounded (header size, body size, time): a server that sends no
// status line, endless headers or a body that never ends is a named finding.
// An explicit proxy (params or environment, checks/common/http_proxy) is used
// with CONNECT to each address, and the details say so.
// With `srv`, the addresses are those behind every target of that SRV name, in
// RFC 2782 order, each reached at its target's port (the URL's host stays the
// Host header, SNI and certificate name); a name without SRV targets falls back
// to the URL host's A/AAAA, as clients do.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/http_proxy.hpp"
#include "checks/common/resolve_step.hpp"
#include "checks/dns/dns_records.hpp"
#include "probe/check.hpp"

namespace callready::checks {

CheckKind http_check_kind();

namespace http {

struct HttpParams {
  std::string url;
  http_proxy::Url parsed;  // `url`, parsed
  std::string method = "GET";
  long long max_ttfb_ms = 2000;
  bool allow_redirect = false;
  std::string ca_file;
  int tries = 3;
  std::optional<std::string> proxy;    // a URL or "direct"; none: the environment decides
  long long answer_timeout_ms = 5000;  // how long one attempt waits for the answer (to measure a slow one)
  long long max_clock_offset_s = 3;    // the Date header may differ this much from the local clock
  bool require_client_cert = false;    // the server must ask for a client certificate (mutual TLS)
  std::string srv;                     // an SRV name whose targets serve the URL; empty: the URL's host

  static HttpParams parse(ParamReader& r);
  std::string target() const;  // the URL without userinfo
};

// How an attempt ended when it got no complete answer.
enum class AttemptFailure {
  none,
  proxy_unreachable,    // could not connect to the proxy
  proxy_auth_required,  // the proxy answered 407
  proxy_refused,        // the proxy refused CONNECT (another status)
  proxy_bad_response,   // the proxy's answer was not usable HTTP
  connect,              // TCP to the address failed (see `net`)
  handshake,            // TLS failed
  timeout,              // no (complete) header within the answer timeout
  closed,               // the server closed before a complete header
  no_status_line,       // bytes that are not an HTTP response
  header_too_large,     // the header went past the limit
  local,                // this machine could not try (descriptors, family): not the network
};
const char* to_string(AttemptFailure);

// Something wrong with the body of an answer whose header arrived.
enum class BodyProblem { none, too_large, incomplete, timeout };
const char* to_string(BodyProblem);

struct HttpAttempt {
  AttemptFailure failure = AttemptFailure::none;
  net::NetFailure net = net::NetFailure::other;  // with connect / proxy_unreachable
  Operation operation = Operation::none;         // the step that failed
  std::string message;
  int status = 0;  // 0: no status
  std::string reason;
  double connect_ms = -1, handshake_ms = -1, ttfb_ms = -1;  // -1: not reached
  std::string tls_version;                                  // "TLSv1.3", empty over plain HTTP
  std::string verify_error;                                 // the certificate did not verify: why ("" when it did)
  bool client_cert_requested = false;
  std::vector<std::string> client_ca_names;
  std::string server;                   // the Server header
  std::optional<std::string> location;  // a redirect's Location
  std::optional<double> date_offset_s;  // Date header minus local clock
  std::string date;                     // the Date header as sent
  std::uint64_t body_bytes = 0;
  BodyProblem body = BodyProblem::none;
  std::string proxy_auth_scheme;  // with proxy_auth_required
  // The server asked for a client certificate and, sent none, ended the
  // connection (handshake alert, or closed before answering): mutual TLS enforced.
  bool refused_without_certificate = false;
};

struct HttpAddress {
  std::string address;  // an IP literal, or the host name when only the proxy could resolve it
  std::vector<HttpAttempt> attempts;
  std::string target;       // the SRV target the address is behind (empty without `srv`)
  unsigned short port = 0;  // the port it was asked on (the SRV target's; 0: the URL's)
  // The attempt the address is reported by: the first good one, else the last.
  const HttpAttempt* shown() const;
};

// One SRV record of `srv` and what its target resolved to.
struct SrvTargetAddresses {
  dns::SrvRecord record;
  checks::TargetAddresses resolved;
};

// The SRV lookup behind the addresses, when the params name one.
struct SrvLookup {
  std::string name;
  net::DnsFailure failure = net::DnsFailure::none;  // of the SRV query
  std::string message;
  std::vector<SrvTargetAddresses> targets;  // RFC 2782 order
  bool fallback = false;                    // no usable target: the URL host's A/AAAA were used
};

struct HttpResult {
  std::string url;
  std::string method;
  long long max_ttfb_ms = 2000;      // the limit the addresses were judged by (for `blocked` in the details)
  bool require_client_cert = false;  // a refusal for want of a client certificate is what was asked for
  std::optional<SrvLookup> srv;
  checks::TargetAddresses resolved;
  std::optional<std::string> proxy;  // the proxy used (redacted URL)
  std::string proxy_source;          // "params", "HTTPS_PROXY", ...
  std::string proxy_exempted_by;     // the NO_PROXY entry that sent it direct
  std::vector<HttpAddress> addresses;
};
void to_json(nlohmann::json& j, const HttpResult& r);

// An attempt a client would count as failed (and retry, then give up on the
// address). With `certificate_expected`, a server that refused us for want of
// a client certificate did what mutual TLS asks: not a failure.
bool attempt_failed(const HttpAttempt& a, long long max_ttfb_ms, bool certificate_expected = false);

// Seconds since the Unix epoch of an HTTP-date (RFC 9110 § 5.6.7: IMF-fixdate,
// and the obsolete RFC 850 and asctime forms); nullopt when it is none.
std::optional<std::int64_t> parse_http_date(const std::string& text);

// One attempt at one address (connection, optional tunnel and TLS, the
// exchange); measure-only.
struct AttemptPlan {
  HttpParams params;
  std::string address;      // IP literal, or the host name (through a proxy)
  unsigned short port = 0;  // where to connect (0: the URL's port)
  std::optional<http_proxy::Url> proxy;
  std::optional<boost::asio::ip::tcp::endpoint> proxy_endpoint;
  std::shared_ptr<boost::asio::ssl::context> tls;  // https: the client context (trust, client-certificate callback)
};
// The client context for https URLs: default trust plus `ca_file`; nullopt
// with `error` when ca_file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file, std::string& error);
boost::asio::awaitable<HttpAttempt> run_attempt(AttemptPlan plan, CheckContext& ctx);

Judgement judge_http(const HttpResult& r, const HttpParams& p);
view::View http_view(const nlohmann::json& details);
metrics::Samples http_metrics(const nlohmann::json& details);

}  // namespace http
}  // namespace callready::checks
