// The verdict of the `proxy` kind, from the measured result alone.
//  - Transparent proxy: the plain echo saw fields added, changed or removed,
//    another source address than the control port saw, or the answer was not
//    the echo's at all (a proxy's own page).
//  - TLS inspection: the TLS echo's key is not the pinned one (the interceptor
//    named by the issuer of the certificate it forged); a target's chain holds
//    none of the expected issuers.
//  - Explicit proxy: CONNECT refused, or a 407 demand.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "checks/proxy/proxy_result.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::proxy {
namespace {

void add_unique(std::vector<std::string>& list, const std::string& name) {
  auto same = [&](const std::string& e) { return iequals(e, name); };
  if (std::none_of(list.begin(), list.end(), same)) list.push_back(name);
}

const EchoExchange* plain_direct(const Result& r) {
  for (const auto& e : r.exchanges)
    if (e.scheme == "http" && e.via == "direct") return &e;
  return nullptr;
}

std::string leaf_issuer(const std::vector<ChainCert>& chain) {
  return chain.empty() ? std::string() : chain.front().issuer_cn;
}

constexpr const char* kNoTampering =
    "Let HTTP(S) traffic to the service pass unchanged: exempt its domains from the proxy's header rewriting, or "
    "send it around the proxy";
constexpr const char* kBypassInspection =
    "Exempt the service's domains from TLS inspection on the proxy or firewall (or, where inspection must stay, "
    "install the proxy's CA where the apps trust it)";

// Bytes as JSON can hold them: anything outside printable ASCII (and CR, LF,
// tab) as \xNN, so a proxy's odd bytes cannot break the report.
std::string printable(const std::string& raw) {
  std::string out;
  for (unsigned char c : raw) {
    if ((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

}  // namespace

Analysis analyse(const Result& r) {
  Analysis a;
  for (const auto& e : r.exchanges) {
    if (e.outcome != StepOutcome::ok) continue;
    for (const auto& n : e.diff.added) add_unique(a.headers_added, n);
    for (const auto& n : e.diff.changed) add_unique(a.headers_changed, n);
    for (const auto& n : e.diff.removed) add_unique(a.headers_removed, n);
    if (e.diff.request_line_changed) add_unique(a.headers_changed, "request-line");
    for (const auto& n : e.response_added) add_unique(a.response_added, n);
  }
  if (const auto* plain = plain_direct(r)) {
    if (plain->outcome == StepOutcome::not_echo) a.replaced = plain;
    if (plain->echo) {
      a.source_seen = plain->echo->source_address;
      a.source_changed = !r.observed.empty() && plain->echo->source_address != r.observed;
    }
  }
  a.transparent_proxy = !a.headers_added.empty() || !a.headers_changed.empty() || !a.headers_removed.empty() ||
                        !a.response_added.empty() || a.source_changed || a.replaced;
  if (!r.pin.empty())
    for (const auto& e : r.exchanges)
      if (e.scheme == "https" && !e.chain.empty() && e.chain.front().spki_sha256 != r.pin) {
        a.tls_intercepted = true;
        a.intercepted = &e;
        a.interceptor_issuer = leaf_issuer(e.chain);
        break;
      }
  for (const auto& t : r.targets)
    if (t.expected_issuer == false) {
      a.targets_intercepted.push_back(&t);
      a.tls_intercepted = true;
      if (!a.interceptor_issuer) a.interceptor_issuer = leaf_issuer(t.chain);
    }
  return a;
}

namespace {

void header_findings(const Result& r, const Analysis& a, std::vector<Finding>& out) {
  std::vector<std::string> what;
  if (!a.headers_added.empty()) what.push_back(fmt::format("added {}", fmt::join(a.headers_added, ", ")));
  if (!a.headers_changed.empty()) what.push_back(fmt::format("changed {}", fmt::join(a.headers_changed, ", ")));
  if (!a.headers_removed.empty()) what.push_back(fmt::format("removed {}", fmt::join(a.headers_removed, ", ")));
  if (!what.empty())
    out.push_back({Severity::critical, "proxy.headers_altered",
                   fmt::format("A proxy on the path rewrote the HTTP request on its way to the echo: it {}.",
                               fmt::join(what, "; ")),
                   kNoTampering, ""});
  if (!a.response_added.empty())
    out.push_back({Severity::critical, "proxy.response_altered",
                   fmt::format("The echo's answer arrived with {} added: a proxy handled the response on the way.",
                               fmt::join(a.response_added, ", ")),
                   kNoTampering, ""});
  if (a.source_changed)
    out.push_back({Severity::warning, "proxy.source_changed",
                   fmt::format("The HTTP echo saw this client as {}, the responder's control port as {}: HTTP leaves "
                               "through another host (a transparent proxy).",
                               a.source_seen, r.observed),
                   kNoTampering, ""});
  if (a.replaced)
    out.push_back({Severity::critical, "proxy.answer_replaced",
                   fmt::format("Port {} was answered by something other than the echo ({}{}): a transparent proxy "
                               "intercepts HTTP.",
                               a.replaced->port, a.replaced->message,
                               a.replaced->server.empty() ? "" : ", Server: " + a.replaced->server),
                   kNoTampering, ""});
}

void tls_findings(const Result& r, const Analysis& a, std::vector<Finding>& out) {
  if (a.intercepted) {
    const auto& e = *a.intercepted;
    out.push_back({Severity::critical, "proxy.tls_intercepted",
                   fmt::format("TLS to the echo at port {} ({}) was intercepted: the certificate presented has key "
                               "{}, not the echo's {} ({}); it was issued by \"{}\" ({}).",
                               e.port, e.via, e.chain.front().spki_sha256.substr(0, 16) + "…",
                               r.pin.substr(0, 16) + "…", r.pin_source == "params" ? "pinned" : "told by the responder",
                               a.interceptor_issuer.value_or(""), e.chain.front().issuer),
                   kBypassInspection, ""});
  }
  for (const auto* t : a.targets_intercepted)
    out.push_back({Severity::critical, "proxy.target_intercepted",
                   fmt::format("{} ({}) presented a chain issued by \"{}\", none of the expected issuers: TLS to it "
                               "is inspected.",
                               t->target, t->via, leaf_issuer(t->chain)),
                   kBypassInspection, ""});
  bool has_tls = std::any_of(r.exchanges.begin(), r.exchanges.end(),
                             [](const EchoExchange& e) { return e.scheme == "https" && !e.chain.empty(); });
  if (r.pin.empty() && has_tls)
    out.push_back({Severity::info, "proxy.tls_unpinned",
                   "The HTTPS echo's key is not known (no pin_sha256 and the plain echo did not tell it): TLS "
                   "inspection of the echo was not tested.",
                   "Give pin_sha256 (the responder logs it at start) or serve --http-ports on the same responder", "",
                   Operation::none, true});
}

// One 407 finding per proxy, naming every destination it refused.
struct AuthDemand {
  std::string scheme;
  bool sent_credentials = false;
  std::vector<std::string> destinations;
};

void auth_findings(const std::map<std::string, AuthDemand>& demands, std::vector<Finding>& out) {
  for (const auto& [via, d] : demands)
    out.push_back(
        {Severity::critical, "proxy.auth_required",
         fmt::format("The proxy {} demands authentication ({}{}) for CONNECT to {}: apps that cannot "
                     "answer it cannot connect.",
                     via, d.scheme.empty() ? "407" : d.scheme,
                     d.sent_credentials ? ", the credentials given were refused" : "", fmt::join(d.destinations, ", ")),
         "Exempt the service's domains from proxy authentication, or configure the apps' proxy credentials", "",
         Operation::connect});
}

void path_findings(const Result& r, std::vector<Finding>& out) {
  std::map<std::string, AuthDemand> demands;
  auto demand = [&](const std::string& via, const std::string& scheme, bool sent, const std::string& destination) {
    auto& d = demands[via];
    if (d.scheme.empty()) d.scheme = scheme;
    d.sent_credentials = d.sent_credentials || sent;
    d.destinations.push_back(destination);
  };
  for (const auto& e : r.exchanges) {
    if (e.outcome == StepOutcome::ok || e.outcome == StepOutcome::not_echo) continue;
    if (e.connect_status == 407) {
      demand(e.via, e.auth_scheme, e.sent_credentials, fmt::format("the responder's {} echo", e.scheme));
      continue;
    }
    bool tunnel = e.via != "direct";
    out.push_back({Severity::warning, tunnel ? "proxy.tunnel_failed" : "proxy.echo_unreachable",
                   fmt::format("The {} echo at port {} ({}) could not be used: {}. What a proxy does on this path "
                               "is unknown.",
                               e.scheme == "https" ? "HTTPS" : "HTTP", e.port, e.via, e.message),
                   fmt::format("Allow TCP {} from this site to the responder", e.port), "", e.operation, true});
  }
  for (const auto& t : r.targets) {
    if (t.outcome == StepOutcome::ok) continue;
    if (t.connect_status == 407) {
      demand(t.via, t.auth_scheme, t.sent_credentials, t.target);
      continue;
    }
    bool refused = t.outcome == StepOutcome::tunnel_failed && t.connect_status != 0;
    out.push_back({refused ? Severity::critical : Severity::warning,
                   refused ? "proxy.connect_refused" : "proxy.target_unreachable",
                   refused ? fmt::format("The proxy {} refused CONNECT to {}: {}", t.via, t.target, t.message)
                           : fmt::format("{} could not be reached ({}): {}", t.target, t.via, t.message),
                   refused ? "Allow CONNECT to the service's hosts and ports on the proxy"
                           : fmt::format("Allow TCP to {} from this site", t.target),
                   "", t.operation == Operation::none ? Operation::connect : t.operation, !refused});
  }
  auth_findings(demands, out);
}

}  // namespace

Judgement judge(const Result& r, const Params& p) {
  if (r.unresolved)
    return checks::unresolved_judgement("proxy", *r.unresolved, "reach the responder's HTTP echo", Severity::warning);
  Judgement j;
  auto a = analyse(r);
  const auto* plain = plain_direct(r);
  header_findings(r, a, j.findings);
  tls_findings(r, a, j.findings);
  path_findings(r, j.findings);
  if (r.explicit_proxy)
    j.findings.push_back({Severity::info, "proxy.explicit",
                          fmt::format("An explicit proxy is configured: {} (from {})", *r.explicit_proxy,
                                      r.proxy_source.empty() ? "the targets' settings" : r.proxy_source),
                          "", ""});
  if (!r.proxy_error.empty())
    j.findings.push_back({Severity::warning, "proxy.bad_setting", "The proxy setting cannot be used: " + r.proxy_error,
                          "Fix the proxy URL in the environment or the params", "", Operation::parse, true});
  for (const auto& f : r.pac)
    if (f.outcome == StepOutcome::ok)
      j.findings.push_back(
          {Severity::info, "proxy.pac_found",
           fmt::format("A proxy auto-config file is served at {} ({} bytes{}; not executed)", f.url, f.text.size(),
                       f.proxies.empty() ? "" : fmt::format(", names {}", fmt::join(f.proxies, ", "))),
           "", ""});

  std::vector<std::string> seen;
  if (a.transparent_proxy) seen.push_back("transparent proxy");
  if (a.tls_intercepted)
    seen.push_back(fmt::format("TLS inspection by \"{}\"", a.interceptor_issuer.value_or("an unknown issuer")));
  if (r.explicit_proxy) seen.push_back("explicit proxy " + *r.explicit_proxy);
  bool blind = !plain || (plain->outcome != StepOutcome::ok && plain->outcome != StepOutcome::not_echo);
  if (!seen.empty())
    j.summary = fmt::format("{} on the path to {}", fmt::join(seen, ", "), p.target());
  else if (blind)
    j.summary = fmt::format("the HTTP echo at {} could not be used; proxies on the path unknown", p.target());
  else
    j.summary = fmt::format("no proxy on the path to {}: the request arrived unchanged{}", p.target(),
                            r.pin.empty() ? "" : ", TLS not intercepted");
  return j;
}

void to_json(nlohmann::json& j, const Result& r) {
  auto a = analyse(r);
  auto chain_json = [](const std::vector<ChainCert>& chain) {
    auto out = nlohmann::json::array();
    for (const auto& c : chain)
      out.push_back({{"subject", c.subject}, {"issuer", c.issuer}, {"spki_sha256", c.spki_sha256}});
    return out;
  };
  j = {{"host", r.host},
       {"address", r.address},
       {"explicit_proxy", r.explicit_proxy ? nlohmann::json(*r.explicit_proxy) : nlohmann::json(nullptr)},
       {"proxy_source", r.proxy_source},
       {"transparent_proxy", a.transparent_proxy},
       {"headers_added", a.headers_added},
       {"headers_changed", a.headers_changed},
       {"headers_removed", a.headers_removed},
       {"response_headers_added", a.response_added},
       {"observed_address", r.observed.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.observed)},
       {"echo_source", a.source_seen.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.source_seen)},
       {"source_changed", a.source_changed},
       {"tls_intercepted", a.tls_intercepted},
       {"interceptor_issuer", a.interceptor_issuer ? nlohmann::json(*a.interceptor_issuer) : nlohmann::json(nullptr)},
       {"pin_sha256", r.pin.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.pin)},
       {"pin_source", r.pin_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.pin_source)}};
  if (!r.proxy_exempted_by.empty()) j["proxy_exempted_by"] = r.proxy_exempted_by;
  if (!r.proxy_error.empty()) j["proxy_error"] = r.proxy_error;
  auto exchanges = nlohmann::json::array();
  for (const auto& e : r.exchanges) {
    nlohmann::json x = {
        {"scheme", e.scheme},
        {"port", e.port},
        {"via", e.via},
        {"outcome", to_string(e.outcome)},
        {"status", e.status},
        {"sent", printable(e.sent)},
        {"received", e.echo ? nlohmann::json(printable(e.echo->head)) : nlohmann::json(nullptr)},
        {"source", e.echo ? nlohmann::json(net::format_host_port(e.echo->source_address, e.echo->source_port))
                          : nlohmann::json(nullptr)}};
    if (!e.message.empty()) x["message"] = e.message;
    if (e.operation != Operation::none) x["operation"] = e.operation;
    if (!e.server.empty()) x["server"] = e.server;
    if (e.connect_status != 0) x["connect_status"] = e.connect_status;
    if (!e.auth_scheme.empty()) x["proxy_auth_scheme"] = e.auth_scheme;
    if (e.scheme == "https") {
      x["tls_version"] = e.tls_version;
      x["chain"] = chain_json(e.chain);
    }
    exchanges.push_back(std::move(x));
  }
  j["exchanges"] = std::move(exchanges);
  auto targets = nlohmann::json::array();
  for (const auto& t : r.targets) {
    nlohmann::json x = {
        {"target", t.target},
        {"via", t.via},
        {"outcome", to_string(t.outcome)},
        {"connect_status", t.connect_status == 0 ? nlohmann::json(nullptr) : nlohmann::json(t.connect_status)},
        {"chain", chain_json(t.chain)},
        {"expected_issuer", t.expected_issuer ? nlohmann::json(*t.expected_issuer) : nlohmann::json(nullptr)}};
    if (!t.auth_scheme.empty()) x["proxy_auth_scheme"] = t.auth_scheme;
    if (!t.message.empty()) x["message"] = t.message;
    targets.push_back(std::move(x));
  }
  j["targets"] = std::move(targets);
  auto pac = nlohmann::json::array();
  for (const auto& f : r.pac)
    pac.push_back({{"url", f.url},
                   {"outcome", to_string(f.outcome)},
                   {"status", f.status},
                   {"message", f.message},
                   {"text", printable(f.text)},
                   {"proxies", f.proxies}});
  j["pac"] = std::move(pac);
}

}  // namespace callready::checks::proxy
