#include "checks/tls/tls_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/tls/certs.hpp"
#include "checks/tls/finding.hpp"
#include "checks/tls/policies.hpp"
#include "checks/tls/scan.hpp"
#include "checks/tls/wire.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/target.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace tls {

namespace {

constexpr Millis kConnectTimeout{4000};
constexpr Millis kHandshakeTimeout{6000};

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().is_v6() ? fmt::format("[{}]:{}", ep.address().to_string(), ep.port())
                              : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

// A handshake that ended before TLS got going, as the finding a person reads.
std::optional<Finding> trouble_finding(const HandshakeResult& hs, const std::string& where, Millis waited) {
  switch (hs.failure) {
    case Failure::timeout:
      return make_finding(
          Severity::critical, "tls.handshake_timeout",
          hs.got_server_bytes
              ? fmt::format("{} started the TLS handshake but stopped answering ({} ms).", where, waited.count())
              : fmt::format("{} accepted the TCP connection but sent no TLS answer within {} ms.", where,
                            waited.count()),
          "Check that a TLS service (not a stalled proxy or another protocol) listens on this port.");
    case Failure::reset:
    case Failure::closed:
      return make_finding(Severity::critical, "tls.handshake_reset",
                          fmt::format("{} {} the connection during the TLS handshake.", where,
                                      hs.failure == Failure::reset ? "reset" : "closed"),
                          "Check the server's TLS configuration and any firewall or proxy that cuts TLS connections.");
    case Failure::plain_http:
      return make_finding(Severity::critical, "tls.plain_http",
                          fmt::format("{} answered in plain HTTP, not TLS.", where),
                          "Point the check at the TLS port, or enable TLS on this listener.");
    case Failure::not_tls:
      return make_finding(Severity::critical, "tls.not_tls",
                          fmt::format("{} answered with bytes that are not TLS.", where),
                          "Check which service listens on this port.");
    default:
      return std::nullopt;
  }
}

json versions_json(const ScanResult& scan, const std::vector<TlsVersion>& tested) {
  json out = json::object();
  for (auto v : kAllVersions) {
    json e = {{"supported", false}, {"ciphers", json::array()}};
    auto it = scan.versions.find(v);
    bool asked = std::count(tested.begin(), tested.end(), v) > 0;
    e["tested"] = asked && it != scan.versions.end() && it->second.tested;
    if (it != scan.versions.end()) {
      const VersionResult& vr = it->second;
      e["supported"] = vr.supported;
      for (auto c : vr.accepted) e["ciphers"].push_back(suite_name(c));
      e["server_order"] = vr.server_order ? json(*vr.server_order) : json(nullptr);
      if (!vr.inconclusive.empty()) e["inconclusive"] = vr.inconclusive;
      if (!vr.supported && !vr.probe_failure.empty()) e["refused"] = vr.probe_failure;
    }
    out[version_key(v)] = e;
  }
  return out;
}

std::string summary_of(const ScanResult& scan, const std::optional<CertInfo>& leaf, const ChainVerdict& chain,
                       const std::string& where) {
  std::vector<std::string> versions;
  std::size_t suites = 0;
  bool ordered = false;
  for (const auto& [v, vr] : scan.versions) {
    if (!vr.supported) continue;
    versions.push_back(std::string(version_label(v)).substr(4));
    suites += vr.accepted.size();
    ordered = ordered || vr.server_order.value_or(false);
  }
  std::string s = versions.empty() ? fmt::format("{}: no TLS version accepted", where)
                                   : fmt::format("{}: TLS {}, {} suites{}", where, fmt::join(versions, "/"), suites,
                                                 ordered ? " in server order" : "");
  if (leaf)
    s += fmt::format("; certificate {} {}, {} days left", leaf->common_name.empty() ? leaf->subject : leaf->common_name,
                     chain.trusted && chain.hostname_match ? "valid" : "NOT valid", leaf->days_left);
  return s;
}

}  // namespace

TlsParams TlsParams::parse(ParamReader& r) {
  TlsParams p;
  p.host = r.string("host");
  p.port = r.port_or("port", 443);
  p.server_name = r.string_or("server_name", "");
  if (p.server_name.empty()) p.server_name = p.host;
  p.ca_file = r.string_or("ca_file", "");
  p.max_parallel = static_cast<int>(r.integer_or("max_parallel", 1, 64, 16));
  p.pace_ms = static_cast<int>(r.integer_or("pace_ms", 0, 10000, 0));
  p.policy = r.string_or("policy", "");
  if (!p.policy.empty() && !find_policy(p.policy))
    r.error("policy", fmt::format("expected one of {}, got \"{}\"", fmt::join(policy_names(), ", "), p.policy));
  p.expected_issuers = r.string_list_or("expected_issuers");
  p.client_cert = r.string_or("client_cert", "");
  p.client_key = r.string_or("client_key", "");
  if (!p.client_key.empty() && p.client_cert.empty()) r.error("client_key", "needs client_cert");
  p.sni = r.boolean_or("sni", true);
  auto versions = r.string_list_or("versions", {"tls1.0", "tls1.1", "tls1.2", "tls1.3"});
  for (std::size_t i = 0; i < versions.size(); ++i) {
    auto v = version_from_key(versions[i]);
    if (!v)
      r.error(fmt::format("versions[{}]", i), "expected tls1.0, tls1.1, tls1.2 or tls1.3");
    else if (std::find(p.versions.begin(), p.versions.end(), *v) == p.versions.end())
      p.versions.push_back(*v);
  }
  return p;
}

std::string TlsParams::target() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

asio::awaitable<CheckOutcome> run_tls_check(TlsParams p, CheckContext& ctx) {
  CheckOutcome out;
  json& d = out.details;
  d["host"] = p.host;
  d["port"] = p.port;
  d["server_name"] = p.server_name;
  d["sni_sent"] = p.sni;
  d["versions"] = versions_json(ScanResult{}, {});
  d["certificate"] = nullptr;
  std::string where = p.target();

  // Resolve, then use the first address that takes a TCP connection.
  auto lookup = co_await net::resolve_target(ctx, "tls", p.host, "test TLS on " + where);
  if (lookup.failure) {
    out.findings.push_back(*lookup.failure);
    out.summary = lookup.failure->message;
    co_return out;
  }
  d["addresses"] = json::array();
  for (const auto& a : lookup.addresses) d["addresses"].push_back(a.to_string());
  Connection conn;
  tcp::endpoint ep;
  std::vector<std::string> connect_errors;
  for (const auto& a : lookup.addresses) {
    ep = tcp::endpoint(a, p.port);
    conn = co_await connect_to(ep, Clock::now() + ctx.budget(kConnectTimeout));
    if (conn.socket) break;
    connect_errors.push_back(fmt::format("{}: {}", endpoint_text(ep), conn.message));
    if (ctx.remaining() < Millis(200)) break;
  }
  if (!conn.socket) {
    d["address"] = lookup.addresses.front().to_string();
    d["error"] = to_string(conn.failure);
    out.findings.push_back(make_finding(
        Severity::critical, conn.failure == Failure::refused ? "tls.connect_refused" : "tls.connect_failed",
        fmt::format("No TCP connection to {}: {}", where, fmt::join(connect_errors, "; ")),
        "Check that the service listens on this port and that firewalls allow TCP to it."));
    out.summary = out.findings.back().message;
    co_return out;
  }
  d["address"] = ep.address().to_string();
  where = endpoint_text(ep);

  // One complete handshake for the certificate, client-certificate request and trust.
  HandshakeOptions hopt;
  boost::system::error_code not_ip;
  (void)asio::ip::make_address(p.server_name, not_ip);
  hopt.sni = p.sni && not_ip ? p.server_name : "";  // RFC 6066: SNI never carries an IP literal
  hopt.verify_name = p.server_name;
  hopt.ca_file = p.ca_file;
  hopt.client_cert = p.client_cert;
  hopt.client_key = p.client_key;
  Millis hs_budget = ctx.budget(kHandshakeTimeout);
  HandshakeResult hs = co_await full_handshake(std::move(conn.socket), hopt, Clock::now() + hs_budget);
  int connections = 1;
  if (hs.local_error) co_return CheckOutcome::failed(ErrorReason::bad_params, hs.message);
  if (auto trouble = trouble_finding(hs, where, hs_budget)) {
    d["handshake"] = {{"completed", false}, {"error", to_string(hs.failure)}, {"message", hs.message}};
    d["connections_used"] = connections;
    out.findings.push_back(*trouble);
    out.summary = trouble->message;
    co_return out;
  }
  d["handshake"] = {{"completed", hs.failure == Failure::none},
                    {"version", hs.version},
                    {"cipher", hs.cipher},
                    {"error", hs.failure == Failure::none ? json(nullptr) : json(to_string(hs.failure))},
                    {"message", hs.message}};

  // The certificate (judged now: it needs no scan, and the scan may use the time left).
  std::optional<CertInfo> leaf;
  ChainVerdict chain;
  if (!hs.presented.empty()) {
    leaf = describe(hs.presented.front().get());
    chain = judge_chain(hs, p.server_name, p.ca_file);
    json c = to_json(*leaf);
    c["hostname_match"] = chain.hostname_match;
    c["chain_complete"] = chain.chain_complete;
    c["trusted"] = chain.trusted;
    c["verify_errors"] = chain.errors;
    c["chain"] = json::array();
    for (const auto& x : hs.presented) c["chain"].push_back(to_json(describe(x.get())));
    d["certificate"] = c;
    for (auto& f : certificate_findings(*leaf, chain, p.server_name)) out.findings.push_back(std::move(f));
    if (!p.expected_issuers.empty()) {
      bool matched = chain_matches_expected(hs, p.expected_issuers);
      d["certificate"]["expected_issuer_seen"] = matched;
      if (!matched)
        out.findings.push_back(make_finding(
            Severity::critical, "tls.inspection_suspected",
            fmt::format("The chain for {} ends at \"{}\", not at an expected issuer ({}): likely a TLS-inspecting "
                        "proxy (seed 001, TLS inspection).",
                        p.server_name, chain.top_issuer, fmt::join(p.expected_issuers, ", ")),
            "Exempt this destination from TLS inspection, or install the proxy's CA in every client's trust "
            "store."));
    }
  }

  // Versions and suites.
  ScanOptions sopt;
  sopt.versions = p.versions;
  sopt.sni = hopt.sni;
  sopt.max_parallel = p.max_parallel;
  sopt.pace = Millis(p.pace_ms);
  ScanResult scan = co_await scan_suites(ep, sopt, ctx);
  connections += scan.connections;
  d["versions"] = versions_json(scan, p.versions);
  bool any_supported = false;
  std::vector<std::string> inconclusive, untestable;
  for (const auto& [v, vr] : scan.versions) {
    any_supported = any_supported || vr.supported;
    inconclusive.insert(inconclusive.end(), vr.inconclusive.begin(), vr.inconclusive.end());
    if (!vr.untestable_reason.empty())
      untestable.push_back(fmt::format("{}: {}", version_key(v), vr.untestable_reason));
  }
  // Suites a policy names that this prober cannot offer at all.
  const Policy* policy = p.policy.empty() ? nullptr : find_policy(p.policy);
  if (policy)
    for (const auto& [v, list] : policy->allowed_suites)
      for (const auto& s : list)
        if (!find_suite(s)) untestable.push_back(s);
  d["untestable"] = untestable;

  // Mutual TLS.
  d["client_cert_requested"] = hs.cert_requested;
  d["client_ca_names"] = hs.client_ca_names;
  if (!p.client_cert.empty()) d["client_cert_accepted"] = hs.cert_requested && hs.failure == Failure::none;
  if (hs.cert_requested && p.client_cert.empty())
    out.findings.push_back(make_finding(
        Severity::info, "tls.client_cert_requested",
        fmt::format("The server asks for a client certificate (mutual TLS); accepted CAs: "
                    "{}.",
                    hs.client_ca_names.empty() ? "any" : fmt::format("{}", fmt::join(hs.client_ca_names, "; "))),
        "Give the check client_cert/client_key to test the mutual-TLS handshake."));
  if (!p.client_cert.empty() && hs.cert_requested && hs.failure != Failure::none)
    out.findings.push_back(
        make_finding(Severity::critical, "tls.client_cert_rejected",
                     fmt::format("The server rejected the client certificate: {}.", hs.message),
                     "Use a client certificate issued by a CA the server trusts (see client_ca_names)."));

  // SNI: without it, does the server still answer? If not, confirm with SNI.
  if (!p.sni) {
    bool answered = hs.failure == Failure::none || any_supported;
    bool required = false;
    if (!answered && ctx.remaining() > Millis(500)) {
      Connection c2 = co_await connect_to(ep, Clock::now() + ctx.budget(kConnectTimeout));
      if (c2.socket) {
        ++connections;
        HandshakeOptions with_sni = hopt;
        with_sni.sni = p.server_name;
        auto hs2 =
            co_await full_handshake(std::move(c2.socket), with_sni, Clock::now() + ctx.budget(kHandshakeTimeout));
        required = hs2.failure == Failure::none || (hs2.cert_requested && hs2.failure == Failure::alert);
      }
    }
    d["sni_required"] = required;
    if (required)
      out.findings.push_back(make_finding(
          Severity::critical, "tls.sni_required",
          fmt::format("{} refuses TLS without SNI ({}), but answers with it. Webex TLS media connections send no SNI "
                      "(seed 001_0143181e3fa0e64a.txt, TLS inspection notes).",
                      where, hs.message),
          "Configure the server or proxy to answer handshakes without SNI (a default certificate)."));
  }

  // Versions, handshake and enumeration problems.
  if (!any_supported && hs.failure == Failure::none)
    out.findings.push_back(make_finding(Severity::warning, "tls.versions_unknown",
                                        "A handshake succeeded but no version probe got an answer.",
                                        "Re-run with a longer timeout or pace_ms for a rate-limited server."));
  if (!any_supported && hs.failure != Failure::none && !d.contains("sni_required"))
    out.findings.push_back(make_finding(Severity::critical, "tls.handshake_failed",
                                        fmt::format("No TLS handshake with {} succeeded: {}.", where, hs.message),
                                        "Check the server's TLS versions, suites and certificate."));
  else if (hs.failure != Failure::none && !hs.cert_requested && !d.contains("sni_required"))
    out.findings.push_back(
        make_finding(Severity::warning, "tls.handshake_failed",
                     fmt::format("A full handshake with this machine's libssl failed ({}), although the "
                                 "server accepts some suites.",
                                 hs.message),
                     "Check the server's suites against modern clients."));
  for (auto v : {TlsVersion::tls1_0, TlsVersion::tls1_1}) {
    auto it = scan.versions.find(v);
    if (it != scan.versions.end() && it->second.supported && !policy)
      out.findings.push_back(
          make_finding(Severity::info, "tls.legacy_version",
                       fmt::format("The server still accepts {} (deprecated by RFC 8996).", version_label(v)),
                       fmt::format("Disable {} unless old clients need it.", version_label(v))));
  }
  if (scan.out_of_time || !inconclusive.empty())
    out.findings.push_back(
        make_finding(Severity::warning, "tls.enumeration_incomplete",
                     fmt::format("Suite enumeration is incomplete: {}{} suite probe(s) got no answer.",
                                 scan.out_of_time ? "the check ran out of time; " : "", inconclusive.size()),
                     "Raise the check's timeout, lower max_parallel or set pace_ms for a rate-limited "
                     "server."));
  if (policy) {
    std::map<TlsVersion, VersionScan> vs;
    for (const auto& [v, vr] : scan.versions) {
      VersionScan s;
      s.tested = vr.tested;
      s.supported = vr.supported;
      for (auto c : vr.accepted) s.ciphers.push_back(suite_name(c));
      s.server_order = vr.server_order;
      vs[v] = s;
    }
    d["policy"] = policy->name;
    for (auto& f : evaluate_policy(*policy, vs)) out.findings.push_back(std::move(f));
  }
  d["connections_used"] = connections;
  out.summary = summary_of(scan, leaf, chain, where);
  co_return out;
}

}  // namespace tls

CheckKind tls_check_kind() { return make_check_kind<tls::TlsParams>("tls", Millis(30000), &tls::run_tls_check); }

}  // namespace callready::checks
