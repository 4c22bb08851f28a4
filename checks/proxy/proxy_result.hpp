#pragma once
// The `proxy` kind's data: params, what one measurement holds, and the pure
// verdict over it. No sockets here: tests/unit/proxy_judge_test.cpp builds
// results by hand.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "checks/proxy/proxy_http.hpp"
#include "checks/proxy/proxy_tls.hpp"
#include "probe/check.hpp"

namespace callready::checks::proxy {

struct Params {
  std::string host;  // the responder
  std::uint16_t http_port = 80;
  std::uint16_t https_port = 443;
  std::vector<std::string> targets;  // host:port to CONNECT to (through the explicit proxy, else direct) and check TLS
  std::string pin_sha256;            // normalised (hex); "" when not given
  std::vector<std::string> expected_issuers;  // CA names or SPKI pins a target's chain must hold
  bool wpad = false;                          // look for a WPAD/PAC file and report it
  std::string pac_url;                        // fetch this PAC file (implies wpad)
  std::optional<std::string> proxy;           // a proxy URL, or "direct"; absent: the environment
  long long timeout_ms = 4000;                // per step

  static Params parse(ParamReader& r);
  std::string target() const;  // "host:80,443"
};

// How one step against a server ended.
enum class StepOutcome {
  ok,            // done: an echo came back / a TLS handshake completed
  not_echo,      // an HTTP answer came, but not the echo's (a proxy's own page)
  refused,       // the connection was refused (RST, ICMP)
  no_answer,     // connect or answer timed out
  failed,        // another failure; `message` says which
  tunnel_failed  // the explicit proxy would not open a tunnel
};
const char* to_string(StepOutcome);

// How the path of one step went: the connection (direct, or the proxy's
// CONNECT tunnel) and, once the step ran, how it ended.
struct PathStep {
  StepOutcome outcome = StepOutcome::failed;
  Operation operation = Operation::none;  // the step that failed
  std::string message;
  int connect_status = 0;   // through a proxy: its answer to CONNECT
  std::string auth_scheme;  // with 407: the first scheme of Proxy-Authenticate
  bool sent_credentials = false;
};

// One request to the responder's echo, plain or inside TLS.
struct EchoExchange : PathStep {
  std::string scheme;  // "http" | "https"
  std::uint16_t port = 0;
  std::string via;     // "direct" | the proxy's redacted URL (through a CONNECT tunnel)
  int status = 0;      // the HTTP status that came back
  std::string server;  // its Server header
  std::string sent;    // the request head as sent
  std::optional<EchoReport> echo;
  HeadDiff diff;                            // sent vs. received by the echo
  std::vector<std::string> response_added;  // response fields the echo does not write
  std::vector<ChainCert> chain;             // https: as presented, leaf first
  std::string tls_version;
};

// One CONNECT/TLS test of a target.
struct TargetProbe : PathStep {
  std::string target;  // host:port
  std::string via;     // "direct" or the proxy's redacted URL
  std::vector<ChainCert> chain;
  std::optional<bool> expected_issuer;  // set when expected_issuers were given and a chain came
};

struct PacFetch {
  std::string url;
  StepOutcome outcome = StepOutcome::failed;
  std::string message;
  int status = 0;
  std::string text;                  // the file (bounded), never executed
  std::vector<std::string> proxies;  // "PROXY host:port" directives found in it
};

struct Result {
  std::string host;
  std::string address;
  std::optional<checks::TargetAddresses> unresolved;
  std::string observed;                       // this client as the responder's control port saw it ("" unknown)
  std::optional<std::string> explicit_proxy;  // redacted URL in force for HTTPS, null when none
  std::string proxy_source;                   // "params", "HTTPS_PROXY", ...
  std::string proxy_exempted_by;              // the NO_PROXY entry that sent the responder direct
  std::string proxy_error;                    // an unusable proxy setting
  std::string pin;                            // the echo's pin the TLS step compared with
  std::string pin_source;                     // "params" | "control" | "http_echo" | ""
  std::vector<EchoExchange> exchanges;        // plain direct, TLS direct, TLS through the proxy
  std::vector<TargetProbe> targets;
  std::vector<PacFetch> pac;
};

// What the judge, the view and the details all read.
struct Analysis {
  bool transparent_proxy = false;
  std::vector<std::string> headers_added, headers_changed, headers_removed;
  std::vector<std::string> response_added;
  bool source_changed = false;
  std::string source_seen;                 // the echo's view of this client's address
  const EchoExchange* replaced = nullptr;  // a plain request answered by something else
  bool tls_intercepted = false;
  std::optional<std::string> interceptor_issuer;
  const EchoExchange* intercepted = nullptr;
  std::vector<const TargetProbe*> targets_intercepted;
};
Analysis analyse(const Result& r);

void to_json(nlohmann::json& j, const Result& r);

Judgement judge(const Result& r, const Params& p);

}  // namespace callready::checks::proxy
