// The http kind's verdict and details, from an HttpResult alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

#include "checks/http/http_check.hpp"

namespace callready::checks::http {

using nlohmann::json;

const char* to_string(AttemptFailure f) {
  switch (f) {
    case AttemptFailure::none:
      return "none";
    case AttemptFailure::proxy_unreachable:
      return "proxy_unreachable";
    case AttemptFailure::proxy_auth_required:
      return "proxy_auth_required";
    case AttemptFailure::proxy_refused:
      return "proxy_refused";
    case AttemptFailure::proxy_bad_response:
      return "proxy_bad_response";
    case AttemptFailure::connect:
      return "connect_failed";
    case AttemptFailure::handshake:
      return "handshake_failed";
    case AttemptFailure::timeout:
      return "timeout";
    case AttemptFailure::closed:
      return "closed";
    case AttemptFailure::no_status_line:
      return "no_status_line";
    case AttemptFailure::header_too_large:
      return "header_too_large";
    case AttemptFailure::local:
      return "local";
  }
  return "none";
}

const char* to_string(BodyProblem b) {
  switch (b) {
    case BodyProblem::none:
      return "none";
    case BodyProblem::too_large:
      return "too_large";
    case BodyProblem::incomplete:
      return "incomplete";
    case BodyProblem::timeout:
      return "timeout";
  }
  return "none";
}

bool attempt_failed(const HttpAttempt& a, long long max_ttfb_ms, bool certificate_expected) {
  if (certificate_expected && a.refused_without_certificate) return false;
  return a.failure != AttemptFailure::none || a.status >= 500 || a.ttfb_ms > static_cast<double>(max_ttfb_ms);
}

const HttpAttempt* HttpAddress::shown() const {
  // Without the params' limit here, "good" is a complete answer under 500;
  // the judge re-checks the time.
  for (const auto& a : attempts)
    if (a.failure == AttemptFailure::none && a.status < 500) return &a;
  return attempts.empty() ? nullptr : &attempts.back();
}

namespace {

json or_null(double v) { return v < 0 ? json(nullptr) : json(v); }

json attempt_json(const HttpAttempt& a) {
  json j = {{"status", a.status ? json(a.status) : json(nullptr)},
            {"ttfb_ms", or_null(a.ttfb_ms)},
            {"connect_ms", or_null(a.connect_ms)},
            {"failure", a.failure == AttemptFailure::none ? json(nullptr) : json(to_string(a.failure))}};
  if (a.handshake_ms >= 0) j["handshake_ms"] = a.handshake_ms;
  if (!a.message.empty()) j["message"] = a.message;
  return j;
}

json address_json(const HttpAddress& addr, bool blocked, long long max_ttfb_ms, bool certificate_expected) {
  json j = {{"address", addr.address}, {"blocked", blocked}};
  if (!addr.target.empty()) {
    j["target"] = addr.target;
    j["port"] = addr.port;
  }
  const HttpAttempt* s = addr.shown();
  if (!s) return j;
  for (const auto& a : addr.attempts)
    if (!attempt_failed(a, max_ttfb_ms, certificate_expected)) {  // the answer a client would take, when there was one
      s = &a;
      break;
    }

  j.update(attempt_json(*s));
  j["reason"] = s->reason;
  j["location"] = s->location ? json(*s->location) : json(nullptr);
  j["client_cert_requested"] = s->client_cert_requested;
  j["client_ca_names"] = s->client_ca_names;
  j["refused_without_certificate"] = s->refused_without_certificate;
  j["date_offset_s"] = s->date_offset_s ? json(*s->date_offset_s) : json(nullptr);
  j["date"] = s->date;
  j["server"] = s->server;
  j["tls_version"] = s->tls_version.empty() ? json(nullptr) : json(s->tls_version);
  j["certificate_verified"] = s->tls_version.empty() ? json(nullptr) : json(s->verify_error.empty());
  if (!s->verify_error.empty()) j["verify_error"] = s->verify_error;
  j["body_bytes"] = s->body_bytes;
  j["body"] = to_string(s->body);
  if (!s->proxy_auth_scheme.empty()) j["proxy_auth_scheme"] = s->proxy_auth_scheme;
  j["net"] = s->failure == AttemptFailure::none ? json(nullptr) : json(net::to_string(s->net));
  auto& tries = j["attempts"] = json::array();
  for (const auto& a : addr.attempts) tries.push_back(attempt_json(a));
  return j;
}

bool blocked(const HttpAddress& a, long long max_ttfb_ms, bool certificate_expected) {
  for (const auto& t : a.attempts)
    if (!attempt_failed(t, max_ttfb_ms, certificate_expected)) return false;
  return true;
}

const HttpAttempt* good_attempt(const HttpAddress& a, long long max_ttfb_ms, bool certificate_expected) {
  for (const auto& t : a.attempts)
    if (!attempt_failed(t, max_ttfb_ms, certificate_expected)) return &t;
  return nullptr;
}

// "https://xsp.example.test/... at 203.0.113.10", or with SRV
// "... at xsp1.example.test (203.0.113.10 port 8443)".
std::string where_text(const HttpParams& p, const HttpAddress& a) {
  if (a.target.empty()) return fmt::format("{} at {}", p.target(), a.address);
  if (a.target == a.address) return fmt::format("{} at {} port {}", p.target(), a.target, a.port);
  return fmt::format("{} at {} ({} port {})", p.target(), a.target, a.address, a.port);
}

const char* srv_failure_words(net::DnsFailure f) {
  switch (f) {
    case net::DnsFailure::nxdomain:
      return "the name does not exist";
    case net::DnsFailure::no_data:
      return "no SRV record";
    default:
      return net::to_string(f);
  }
}

// What the SRV lookup behind the addresses says: no usable target (clients
// fall back to the URL host), or targets without an address.
void srv_findings(const SrvLookup& srv, const HttpParams& p, std::vector<Finding>& out) {
  if (srv.fallback) {
    std::string why =
        srv.failure != net::DnsFailure::none
            ? fmt::format("{}{}", srv_failure_words(srv.failure), srv.message.empty() ? "" : " (" + srv.message + ")")
            : "none of its targets has an address";
    out.push_back(
        {.severity = Severity::warning,
         .code = "http.srv_fallback",
         .message = fmt::format("{} gives no usable target: {}; clients fall back to the A/AAAA records of {}",
                                srv.name, why, p.parsed.host),
         .remediation = fmt::format("Publish SRV records {} whose targets have addresses", srv.name),
         .operation = Operation::resolve});
    return;
  }
  for (const auto& t : srv.targets) {
    if (t.record.target.empty() || t.record.target == "." || t.resolved.resolved()) continue;
    out.push_back(
        {.severity = Severity::warning,
         .code = "http.srv_target_no_address",
         .message = fmt::format("SRV target {} (port {}) of {} has no address ({}); clients that pick it "
                                "fail over to the next target",
                                t.record.target, t.record.port, srv.name, to_string(t.resolved.failure)),
         .remediation = fmt::format("Give {} an A or AAAA record, or remove it from {}", t.record.target, srv.name),
         .operation = Operation::resolve});
  }
}

json srv_json(const SrvLookup& srv) {
  json targets = json::array();
  for (const auto& t : srv.targets) {
    json addresses = json::array();
    for (const auto& a : t.resolved.addresses) addresses.push_back(a.to_string());
    targets.push_back({{"target", t.record.target},
                       {"port", t.record.port},
                       {"priority", t.record.priority},
                       {"weight", t.record.weight},
                       {"addresses", addresses},
                       {"failure", t.resolved.resolved() ? json(nullptr) : json(to_string(t.resolved.failure))}});
  }
  return {{"name", srv.name},
          {"failure", srv.failure == net::DnsFailure::none ? json(nullptr) : json(to_string(srv.failure))},
          {"targets", targets},
          {"fallback", srv.fallback}};
}

struct Failed {
  std::string code, what, remediation;
  Operation operation = Operation::none;
};

std::string net_words(const HttpAttempt& a) {
  switch (a.net) {
    case net::NetFailure::refused:
      return "refused the connection (a firewall REJECT or nothing listening)";
    case net::NetFailure::timeout:
      return "did not answer the connection (dropped on the way, or a firewall DROP)";
    case net::NetFailure::unreachable:
      return "is unreachable (no route, or ICMP unreachable)";
    case net::NetFailure::reset:
      return "reset the connection";
    default:
      return a.message;
  }
}

// Why the last attempt at a blocked address failed, as a finding's parts.
Failed failed_parts(const HttpAttempt& a, const std::string& where, const HttpParams& p) {
  std::string tries = fmt::format("{} of {} tries", p.tries, p.tries);
  if (a.refused_without_certificate)
    return {"http.client_cert_demanded",
            fmt::format("{} demands a client certificate and ended the connection without one: {}", where, a.message),
            "Serve this URL on an interface that does not demand client certificates (mutual TLS belongs on the "
            "interface that requires it)",
            a.operation};
  switch (a.failure) {
    case AttemptFailure::proxy_auth_required:
      return {"http.proxy_auth_required",
              fmt::format("the proxy demands authentication{} before it opens a tunnel to {}",
                          a.proxy_auth_scheme.empty() ? "" : " (" + a.proxy_auth_scheme + ")", where),
              "Exempt this destination from proxy authentication, or give the proxy's credentials", a.operation};
    case AttemptFailure::proxy_refused:
      return {"http.proxy_refused", fmt::format("the proxy refused CONNECT to {}: {}", where, a.message),
              "Allow CONNECT to this host and port on the proxy", a.operation};
    case AttemptFailure::proxy_unreachable:
      return {"http.proxy_unreachable", fmt::format("the proxy could not be used for {}: {}", where, a.message),
              "Check the proxy setting (params or HTTPS_PROXY) and that the proxy is reachable", a.operation};
    case AttemptFailure::proxy_bad_response:
      return {"http.proxy_bad_response",
              fmt::format("the proxy's answer to CONNECT {} was unusable: {}", where, a.message),
              "Check what answers on the proxy's address and port", a.operation};
    case AttemptFailure::connect:
      return {"http.connect_failed", fmt::format("{} {}", where, net_words(a)),
              fmt::format("Allow outbound TCP {} to this address on the firewall", p.parsed.port), a.operation};
    case AttemptFailure::handshake:
      return {"http.handshake_failed", fmt::format("TLS with {} failed: {}", where, a.message),
              "Check the server's TLS configuration and any TLS-inspecting middlebox", a.operation};
    case AttemptFailure::timeout:
      return {"http.timeout", fmt::format("{}: {} ({})", where, a.message, tries),
              "Make the server answer within the clients' timeout, or take the address out of DNS", a.operation};
    case AttemptFailure::closed:
      return {"http.closed", fmt::format("{} closed the connection without an answer: {}", where, a.message),
              "Check the server (and any middlebox that ends connections)", a.operation};
    case AttemptFailure::no_status_line:
      return {"http.no_status_line", fmt::format("{} did not answer HTTP: {}", where, a.message),
              "Check what serves this address and port", a.operation};
    case AttemptFailure::header_too_large:
      return {"http.header_too_large", fmt::format("{}: {}", where, a.message),
              "Check what serves this address and port", a.operation};
    case AttemptFailure::local:
    case AttemptFailure::none:
      break;
  }
  if (a.status >= 500)
    return {"http.server_error", fmt::format("{} answered {} {} ({})", where, a.status, a.reason, tries),
            "Fix the server behind this address, or take the address out of DNS until it is healthy",
            Operation::receive};
  return {
      "http.slow",
      fmt::format("{} answered after {} ms, over the {} ms clients wait ({})", where, a.ttfb_ms, p.max_ttfb_ms, tries),
      fmt::format("Make the server answer within {} ms, or take the address out of DNS", p.max_ttfb_ms),
      Operation::receive};
}

// What is wrong with an answer a client would accept.
void answer_findings(const HttpAttempt& a, const std::string& where, const HttpParams& p, std::vector<Finding>& out) {
  if (a.status >= 300 && a.status < 400 && !p.allow_redirect)
    out.push_back({.severity = Severity::critical,
                   .code = "http.redirect",
                   .message = fmt::format("{} answered {} {} redirecting to {}; clients do not follow redirects", where,
                                          a.status, a.reason, a.location.value_or("(no Location)")),
                   .remediation = "Serve the URL itself at this address instead of redirecting",
                   .operation = Operation::receive});
  if (p.require_client_cert && p.parsed.scheme == "https" && !a.client_cert_requested &&
      a.failure == AttemptFailure::none)
    out.push_back({.severity = Severity::critical,
                   .code = "http.client_cert_not_requested",
                   .message = fmt::format("{} did not ask for a client certificate (mutual TLS)", where),
                   .remediation = "Require client certificates on this interface and list the CA that signs them",
                   .operation = Operation::handshake});
  if (a.date_offset_s && std::abs(*a.date_offset_s) > static_cast<double>(p.max_clock_offset_s))
    out.push_back({.severity = Severity::warning,
                   .code = "http.clock_offset",
                   .message = fmt::format("{}'s Date header is {:+} s from this machine's clock (over {} s)", where,
                                          *a.date_offset_s, p.max_clock_offset_s),
                   .remediation = "Synchronise the server's clock with NTP (and this machine's, if it is the one off)",
                   .operation = Operation::receive});
  if (!a.verify_error.empty())
    out.push_back({.severity = Severity::warning,
                   .code = "http.certificate_untrusted",
                   .message = fmt::format("{}'s certificate did not verify: {}", where, a.verify_error),
                   .remediation = "Serve a CA-signed certificate for this name with its intermediates",
                   .operation = Operation::handshake});
  if (a.body == BodyProblem::too_large)
    out.push_back(
        {.severity = Severity::warning,
         .code = "http.body_too_large",
         .message = fmt::format("{}'s answer body went past {} bytes; reading stopped there", where, a.body_bytes),
         .remediation = "Check what this URL serves",
         .operation = Operation::receive});
  if (a.body == BodyProblem::incomplete || a.body == BodyProblem::timeout)
    out.push_back({.severity = Severity::warning,
                   .code = "http.body_incomplete",
                   .message = fmt::format("{}'s answer body {}", where,
                                          a.body == BodyProblem::timeout ? "did not end in time (it never finished)"
                                                                         : "ended early or was malformed"),
                   .remediation = "Check the server and any middlebox that rewrites HTTP",
                   .operation = Operation::receive});
}

}  // namespace

void to_json(json& j, const HttpResult& r) {
  j = json::object();
  j["url"] = r.url;
  j["method"] = r.method;
  j["proxy"] = r.proxy ? json(*r.proxy) : json(nullptr);
  if (r.proxy) j["proxy_source"] = r.proxy_source;
  if (!r.proxy_exempted_by.empty()) j["proxy_exempted_by"] = r.proxy_exempted_by;
  if (r.srv) j["srv"] = srv_json(*r.srv);
  auto& list = j["addresses"] = json::array();
  for (const auto& a : r.addresses)
    list.push_back(
        address_json(a, blocked(a, r.max_ttfb_ms, r.require_client_cert), r.max_ttfb_ms, r.require_client_cert));
}

Judgement judge_http(const HttpResult& r, const HttpParams& p) {
  Judgement j;
  bool cert = p.require_client_cert;
  if (r.addresses.empty()) {
    j = checks::unresolved_judgement("http", r.resolved, "fetch " + p.target());
    if (r.srv) srv_findings(*r.srv, p, j.findings);
    return j;
  }
  std::vector<const HttpAddress*> usable, lost;
  for (const auto& a : r.addresses) {
    bool local_only = a.shown() && a.shown()->failure == AttemptFailure::local;
    if (local_only) continue;  // this machine could not try (e.g. no IPv6): nothing learnt
    (blocked(a, p.max_ttfb_ms, cert) ? lost : usable).push_back(&a);
  }
  Severity lost_severity = usable.empty() ? Severity::critical : Severity::warning;
  std::set<std::string> said;  // a proxy failure is said once, not per address
  for (const auto* a : lost) {
    auto parts = failed_parts(a->attempts.back(), where_text(p, *a), p);
    if (parts.code.rfind("http.proxy_", 0) == 0 && !said.insert(parts.code).second) continue;
    if (!usable.empty()) parts.what += "; clients that try this address first stall before failing over";
    j.findings.push_back({.severity = lost_severity,
                          .code = parts.code,
                          .message = parts.what,
                          .remediation = parts.remediation,
                          .operation = parts.operation});
  }
  for (const auto* a : usable)
    answer_findings(*good_attempt(*a, p.max_ttfb_ms, cert), where_text(p, *a), p, j.findings);
  if (r.srv) srv_findings(*r.srv, p, j.findings);

  std::string via = r.proxy ? fmt::format(" through proxy {}", *r.proxy) : "";
  if (usable.empty()) {
    j.summary = j.findings.empty() ? fmt::format("{} {}: no address could be tried{}", p.method, p.target(), via)
                                   : j.findings.front().message;
    return j;
  }
  const HttpAttempt* first = good_attempt(*usable.front(), p.max_ttfb_ms, cert);
  if (first->refused_without_certificate)
    j.summary = fmt::format("{} {}{}: {} demands a client certificate (mutual TLS)", p.method, p.target(), via,
                            usable.front()->address);
  else
    j.summary = fmt::format("{} {}{}: {} {} from {} in {} ms", p.method, p.target(), via, first->status, first->reason,
                            usable.front()->address, first->ttfb_ms);
  if (!lost.empty()) {
    std::vector<std::string> names;
    for (const auto* a : lost) names.push_back(a->address);
    j.summary +=
        fmt::format("; {} of {} addresses fail ({})", lost.size(), lost.size() + usable.size(), fmt::join(names, ", "));
  }
  return j;
}

view::View http_view(const json& d) {
  view::View v;
  const auto& addresses = d.value("addresses", json::array());
  if (!addresses.is_array() || addresses.empty()) return v;
  view::Table t;
  t.caption = "Addresses";
  t.headers = {"Address", "Status", "First byte (ms)", "TLS", "Client certificate", "Clock offset (s)"};
  auto text = [](const json& x) {
    if (x.is_null()) return std::string("\u2014");
    return x.is_string() ? x.get<std::string>() : x.dump();
  };
  for (const auto& a : addresses) {
    if (!a.is_object()) continue;
    bool blocked_address = a.value("blocked", false);
    std::string status =
        a.contains("status") && !a["status"].is_null() ? text(a["status"]) : text(a.value("failure", json("failed")));
    if (a.contains("location") && a["location"].is_string()) status += " \u2192 " + a["location"].get<std::string>();
    std::string where = a.value("address", std::string("?"));
    if (a.contains("target") && a["target"].is_string() && a["target"] != where)
      where = fmt::format("{} ({} port {})", a["target"].get<std::string>(), where, text(a.value("port", json())));
    t.rows.push_back({{where, view::Tone::plain, true},
                      {status, blocked_address ? view::Tone::bad : view::Tone::good},
                      {text(a.value("ttfb_ms", json()))},
                      {text(a.value("tls_version", json()))},
                      {a.value("client_cert_requested", false) ? "requested" : "not requested"},
                      {text(a.value("date_offset_s", json()))}});
  }
  v.blocks.push_back(std::move(t));
  v.shown_keys = {"addresses"};
  return v;
}

metrics::Samples http_metrics(const json& d) {
  metrics::Samples s;
  const auto& addresses = d.value("addresses", json::array());
  if (!addresses.is_array()) return s;
  double usable = 0;
  for (const auto& a : addresses) {
    if (!a.is_object()) continue;
    if (!a.value("blocked", true)) ++usable;
    double ttfb = metrics::number(a, "ttfb_ms", 1000);
    s.push_back({"callready_http_first_byte_seconds",
                 "Time from the request to the answer's first byte",
                 "s",
                 {{"address", a.value("address", std::string())}},
                 ttfb});
  }
  s.push_back(
      {"callready_http_addresses_usable", "Addresses that answered within the limit without a 5xx", "", {}, usable});
  return s;
}

}  // namespace callready::checks::http
