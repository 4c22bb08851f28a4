// The tls check's verdict and details, from the measured result alone.
#include <fmt/format.h>

#include <algorithm>

#include "checks/common/finding.hpp"
#include "checks/tls/tls_check.hpp"

namespace callready::checks::tls {

namespace {

Finding failed(Finding f, Operation op) {
  f.operation = op;
  return f;
}

bool legacy(TlsVersion v) { return v == TlsVersion::tls1_0 || v == TlsVersion::tls1_1; }

// A handshake that ended before TLS got going, as the finding a person reads.
Finding broken_handshake(const HandshakeFacts& hs, const std::string& where) {
  switch (hs.failure) {
    case Failure::timeout:
      return make_finding(
          Severity::critical, "tls.handshake_timeout",
          hs.got_server_bytes
              ? fmt::format("{} started the TLS handshake but stopped answering ({} ms).", where, hs.waited.count())
              : fmt::format("{} accepted the TCP connection but sent no TLS answer within {} ms.", where,
                            hs.waited.count()),
          "Check that a TLS service (not a stalled proxy or another protocol) listens on this port.");
    case Failure::plain_http:
      return make_finding(Severity::critical, "tls.plain_http",
                          fmt::format("{} answered in plain HTTP, not TLS.", where),
                          "Point the check at the TLS port, or enable TLS on this listener.");
    case Failure::not_tls:
      return make_finding(Severity::critical, "tls.not_tls",
                          fmt::format("{} answered with bytes that are not TLS.", where),
                          "Check which service listens on this port.");
    default:  // reset, closed
      return make_finding(Severity::critical, "tls.handshake_reset",
                          fmt::format("{} {} the connection during the TLS handshake.", where,
                                      hs.failure == Failure::reset ? "reset" : "closed"),
                          "Check the server's TLS configuration and any firewall or proxy that cuts TLS connections.");
  }
}

std::map<TlsVersion, VersionScan> scanned_suites(const TlsResult& r) {
  std::map<TlsVersion, VersionScan> out;
  for (const auto& [v, vr] : r.versions) {
    VersionScan s;
    s.tested = vr.tested;
    s.supported = vr.supported;
    for (auto c : vr.accepted) s.ciphers.push_back(suite_name(c));
    s.server_order = vr.server_order;
    out[v] = std::move(s);
  }
  return out;
}

// Every certificate to judge: those served, or else the handshake's own.
std::vector<ServedCertificate> served_list(const TlsResult& r) {
  if (!r.certificates.empty()) return r.certificates;
  if (!r.leaf) return {};
  return {ServedCertificate{*r.leaf, r.chain, r.chain_verdict, {"any"}}};
}

// How the findings name a certificate: by key type when the server has several.
std::string label_of(const std::vector<ServedCertificate>& all, std::size_t i) {
  if (all.size() == 1) return "the server certificate";
  const CertInfo& leaf = all[i].leaf;
  std::string family = key_family_of(leaf);
  auto same = std::count_if(all.begin(), all.end(), [&](const auto& c) { return key_family_of(c.leaf) == family; });
  if (same == 1) return fmt::format("the {} certificate", family);
  return fmt::format("the {} certificate {} (SHA-256 {})", family, leaf.common_name,
                     leaf.fingerprint_sha256.substr(0, 16));
}

// One certificate with the findings the judge made about it.
struct JudgedCertificate {
  const ServedCertificate* cert;
  std::vector<Finding> findings;
};

std::vector<JudgedCertificate> judge_certificates(const std::vector<ServedCertificate>& all,
                                                  const std::string& server_name) {
  std::vector<JudgedCertificate> out;
  for (std::size_t i = 0; i < all.size(); ++i)
    out.push_back({&all[i], certificate_findings(all[i].leaf, all[i].verdict, server_name, label_of(all, i))});
  return out;
}

// How a certificate finding reads in the one-line summary.
std::string summary_phrase(const Finding& f, const ServedCertificate& c, const std::string& server_name) {
  const CertInfo& leaf = c.leaf;
  if (f.code == "tls.cert_expired") return "expired on " + leaf.not_after.substr(0, 10);
  if (f.code == "tls.cert_not_yet_valid") return "not valid before " + leaf.not_before.substr(0, 10);
  if (f.code == "tls.cert_expiring") return fmt::format("expires in {} days", leaf.days_left);
  if (f.code == "tls.hostname_mismatch") return "does not name " + server_name;
  if (f.code == "tls.chain_incomplete") return "chain incomplete";
  if (f.code == "tls.root_untrusted") return "root not trusted";
  if (f.code == "tls.cert_self_signed") return "self-signed";
  if (f.code == "tls.cert_untrusted") return "not trusted";
  if (f.code == "tls.weak_key") return "weak key";
  if (f.code == "tls.weak_signature") return "weak signature";
  if (f.code == "tls.inspection_suspected") return "not from an expected issuer";
  return f.code;
}

// A certificate's part of the summary, read off the same findings the
// judgement reports: "valid" only when none of them is critical.
std::string certificate_summary(const JudgedCertificate& j, const std::string& server_name) {
  const CertInfo& leaf = j.cert->leaf;
  std::vector<std::string> critical, warnings;
  for (const auto& f : j.findings) {
    if (f.severity == Severity::critical)
      critical.push_back(summary_phrase(f, *j.cert, server_name));
    else if (f.code != "tls.cert_expiring")  // "N days left" says it
      warnings.push_back(summary_phrase(f, *j.cert, server_name));
  }
  std::string who = leaf.common_name.empty() ? leaf.subject : leaf.common_name;
  if (!critical.empty()) {
    critical.insert(critical.end(), warnings.begin(), warnings.end());
    return fmt::format("{} {}", who, fmt::join(critical, ", "));
  }
  std::string s = fmt::format("{} valid, {} days left", who, leaf.days_left);
  if (!warnings.empty()) s += fmt::format(" ({})", fmt::join(warnings, ", "));
  return s;
}

std::string summary_of(const TlsResult& r, const std::vector<JudgedCertificate>& certs) {
  std::vector<std::string> versions;
  std::size_t suites = 0;
  bool ordered = false;
  for (const auto& [v, vr] : r.versions) {
    if (!vr.supported) continue;
    versions.push_back(std::string(version_label(v)).substr(4));
    suites += vr.accepted.size();
    ordered = ordered || vr.server_order.value_or(false);
  }
  std::string s = versions.empty() ? fmt::format("{}: no TLS version accepted", r.where)
                                   : fmt::format("{}: TLS {}, {} suites{}", r.where, fmt::join(versions, "/"), suites,
                                                 ordered ? " in server order" : "");
  if (certs.size() == 1) s += "; certificate " + certificate_summary(certs.front(), r.server_name);
  if (certs.size() > 1) {
    s += "; certificates:";
    for (const auto& c : certs)
      s += fmt::format(" {} {};", key_family_of(c.cert->leaf), certificate_summary(c, r.server_name));
    s.pop_back();
  }
  return s;
}

// A path that drops large ClientHellos, per version where small ones got answers.
std::vector<Finding> large_hello_findings(const TlsResult& r) {
  std::vector<Finding> out;
  for (const auto& [v, vr] : r.versions)
    if (vr.large_hello_intolerant)
      out.push_back(failed(
          make_finding(Severity::warning, "tls.large_hello_dropped",
                       fmt::format("A {}-byte {} ClientHello got no answer while a small one did: the server or a "
                                   "device on the path drops large ClientHellos (suites were tested in small "
                                   "groups, so their order is unknown).",
                                   vr.refused_hello_bytes, version_label(v)),
                       "Clients that offer many suites or large key shares will fail to connect: update or "
                       "reconfigure the load balancer, firewall or TLS inspection device that drops them."),
          Operation::handshake));
  return out;
}

}  // namespace

Judgement judge_tls(const TlsResult& r, const TlsParams& p) {
  Judgement j;
  auto stop = [&j](Finding f) {
    j.summary = f.message;
    j.findings.push_back(std::move(f));
    return j;
  };
  if (!r.target.resolved()) return stop(checks::unresolved_finding("tls", r.target, "test TLS on " + r.where));
  if (!r.handshake)
    return stop(
        failed(make_finding(Severity::critical,
                            r.connect_failure == Failure::refused ? "tls.connect_refused" : "tls.connect_failed",
                            fmt::format("No TCP connection to {}: {}", r.where, fmt::join(r.connect_errors, "; ")),
                            "Check that the service listens on this port and that firewalls allow TCP to it."),
               Operation::connect));
  const HandshakeFacts& hs = *r.handshake;
  if (ended_before_tls(hs.failure)) {
    // A reset that small ClientHellos do not get: the drop explains it.
    stop(failed(broken_handshake(hs, r.where), Operation::handshake));
    for (auto& f : large_hello_findings(r)) {
      j.summary = f.message;
      j.findings.push_back(std::move(f));
    }
    return j;
  }

  auto& out = j.findings;
  auto served = served_list(r);
  auto certs = judge_certificates(served, r.server_name);
  if (r.leaf && r.expected_issuer_seen == false && !certs.empty())  // about the handshake's own certificate
    certs.front().findings.push_back(make_finding(
        Severity::critical, "tls.inspection_suspected",
        fmt::format("The chain for {} ends at \"{}\", not at an expected issuer ({}): likely a TLS-inspecting proxy.",
                    r.server_name, r.chain_verdict.top_issuer, fmt::join(p.expected_issuers, ", ")),
        "Exempt this destination from TLS inspection, or install the proxy's CA in every client's trust store."));
  for (const auto& c : certs) out.insert(out.end(), c.findings.begin(), c.findings.end());

  // Mutual TLS.
  if (r.cert_requested && !r.client_cert_accepted.has_value())
    out.push_back(make_finding(
        Severity::info, "tls.client_cert_requested",
        fmt::format("The server asks for a client certificate (mutual TLS); accepted CAs: {}.",
                    r.client_ca_names.empty() ? "any" : fmt::format("{}", fmt::join(r.client_ca_names, "; "))),
        "Give the check client_cert/client_key to test the mutual-TLS handshake."));
  if (r.client_cert_accepted == false && r.cert_requested)
    out.push_back(
        failed(make_finding(Severity::critical, "tls.client_cert_rejected",
                            fmt::format("The server rejected the client certificate: {}.", hs.message),
                            "Use a client certificate issued by a CA the server trusts (see client_ca_names)."),
               Operation::handshake));

  if (r.sni_required == true)
    out.push_back(
        failed(make_finding(Severity::critical, "tls.sni_required",
                            fmt::format("{} refuses TLS without SNI ({}), but answers with it.", r.where, hs.message),
                            "Configure the server or proxy to answer handshakes without SNI (a default "
                            "certificate)."),
               Operation::handshake));

  // Versions, handshake and enumeration problems.
  bool any_supported =
      std::any_of(r.versions.begin(), r.versions.end(), [](const auto& e) { return e.second.supported; });
  bool sni_probed = r.sni_required.has_value();
  if (!any_supported && hs.failure == Failure::none)
    out.push_back(failed(make_finding(Severity::warning, "tls.versions_unknown",
                                      "A handshake succeeded but no version probe got an answer.",
                                      "Re-run with a longer timeout or pace_ms for a rate-limited server."),
                         Operation::handshake));
  if (!any_supported && hs.failure != Failure::none && !sni_probed)
    out.push_back(failed(make_finding(Severity::critical, "tls.handshake_failed",
                                      fmt::format("No TLS handshake with {} succeeded: {}.", r.where, hs.message),
                                      "Check the server's TLS versions, suites and certificate."),
                         Operation::handshake));
  else if (hs.failure != Failure::none && !r.cert_requested && !sni_probed)
    out.push_back(failed(make_finding(Severity::warning, "tls.handshake_failed",
                                      fmt::format("A full handshake with this machine's libssl failed ({}), although "
                                                  "the server accepts some suites.",
                                                  hs.message),
                                      "Check the server's suites against modern clients."),
                         Operation::handshake));
  if (!r.policy)
    for (const auto& [v, vr] : r.versions)
      if (legacy(v) && vr.supported)
        out.push_back(
            make_finding(Severity::info, "tls.legacy_version",
                         fmt::format("The server still accepts {} (deprecated by RFC 8996).", version_label(v)),
                         fmt::format("Disable {} unless old clients need it.", version_label(v))));
  for (auto& f : large_hello_findings(r)) out.push_back(std::move(f));
  std::size_t inconclusive = 0;
  for (const auto& [v, vr] : r.versions) inconclusive += vr.inconclusive.size();
  if (r.out_of_time || inconclusive > 0)
    out.push_back(failed(make_finding(Severity::warning, "tls.enumeration_incomplete",
                                      fmt::format("Suite enumeration is incomplete: {}{} suite probe(s) got no answer.",
                                                  r.out_of_time ? "the check ran out of time; " : "", inconclusive),
                                      "Raise the check's timeout, lower max_parallel or set pace_ms for a "
                                      "rate-limited server."),
                         Operation::handshake));
  if (r.policy)
    for (auto& f : evaluate_policy(*r.policy, scanned_suites(r))) out.push_back(std::move(f));
  j.summary = summary_of(r, certs);
  return j;
}

void to_json(nlohmann::json& j, const TlsResult& r) {
  using nlohmann::json;
  j = json::object();
  j["host"] = r.host;
  j["port"] = r.port;
  j["server_name"] = r.server_name;
  j["sni_sent"] = r.sni_sent;

  json versions = json::object();
  for (auto v : kAllVersions) {
    json e = {{"supported", false}, {"ciphers", json::array()}};
    auto it = r.versions.find(v);
    bool asked = std::count(r.versions_asked.begin(), r.versions_asked.end(), v) > 0;
    e["tested"] = asked && it != r.versions.end() && it->second.tested;
    std::vector<std::string> names;
    if (it != r.versions.end()) {
      const VersionResult& vr = it->second;
      e["supported"] = vr.supported;
      for (auto c : vr.accepted) names.push_back(suite_name(c));
      e["ciphers"] = names;
      e["server_order"] = vr.server_order ? json(*vr.server_order) : json(nullptr);
      if (!vr.inconclusive.empty()) e["inconclusive"] = vr.inconclusive;
      if (!vr.supported && !vr.probe_failure.empty()) e["refused"] = vr.probe_failure;
      if (vr.large_hello_intolerant) e["large_hello_dropped_bytes"] = vr.refused_hello_bytes;
    }
    // The verdicts a picture needs: with a policy its own; without one, the
    // versions RFC 8996 deprecates are the ones not allowed.
    bool allowed = r.policy ? version_allowed(*r.policy, v) : !legacy(v);
    e["version_allowed"] = allowed;
    json forbidden = json::array();
    if (r.policy)
      for (const auto& n : names)
        if (!allowed || judge_suite(*r.policy, v, n) == SuiteVerdict::forbidden) forbidden.push_back(n);
    e["ciphers_forbidden"] = forbidden;
    versions[version_key(v)] = std::move(e);
  }
  j["versions"] = std::move(versions);

  j["certificate"] = nullptr;
  if (r.leaf) {
    json c = *r.leaf;
    c["hostname_match"] = r.chain_verdict.hostname_match;
    c["chain_complete"] = r.chain_verdict.chain_complete;
    c["trusted"] = r.chain_verdict.trusted;
    c["verify_errors"] = r.chain_verdict.errors;
    c["chain"] = r.chain;
    if (r.expected_issuer_seen) c["expected_issuer_seen"] = *r.expected_issuer_seen;
    j["certificate"] = std::move(c);
  }
  j["certificates"] = served_list(r);
  if (r.target.resolved()) {
    j["addresses"] = json::array();
    for (const auto& a : r.target.addresses) j["addresses"].push_back(a.to_string());
  }
  if (!r.address.empty()) j["address"] = r.address;
  if (!r.address.empty() && !r.handshake && r.connect_failure != Failure::none)
    j["error"] = to_string(r.connect_failure);
  if (r.handshake) {
    const HandshakeFacts& hs = *r.handshake;
    bool ok = hs.failure == Failure::none;
    if (ended_before_tls(hs.failure))
      j["handshake"] = {{"completed", false}, {"error", to_string(hs.failure)}, {"message", hs.message}};
    else
      j["handshake"] = {{"completed", ok},
                        {"version", hs.version},
                        {"cipher", hs.cipher},
                        {"error", ok ? json(nullptr) : json(to_string(hs.failure))},
                        {"message", hs.message}};
    j["connections_used"] = r.connections_used;
  }
  if (r.scanned) {
    j["untestable"] = r.untestable;
    j["client_cert_requested"] = r.cert_requested;
    j["client_ca_names"] = r.client_ca_names;
    if (r.client_cert_accepted) j["client_cert_accepted"] = *r.client_cert_accepted;
    if (r.sni_required) j["sni_required"] = *r.sni_required;
  }
  if (r.policy) j["policy"] = {{"name", r.policy->name}, {"source", r.policy->source}};
}

}  // namespace callready::checks::tls
