#include "checks/tls/policies.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/tls/finding.hpp"

namespace callready::checks::tls {

namespace {

using V = TlsVersion;

std::vector<Policy> build_policies() {
  std::vector<Policy> out;

  // Seed 001_0143181e3fa0e64a.txt, section "Transportprotocollen en
  // versleutelingscodes voor cloudgeregistreerde Webex-apps en -apparaten"
  // (Transport protocols and encryption ciphers for cloud-registered Webex
  // apps and devices): "Voor TLS-signaleringsverbindingen met Webex-services
  // wordt TLS-versie 1.2 of 1.3 gebruikt", then the preferred suite order for
  // each version. The document writes "_MET_" for "_WITH_" and
  // "TLS_CHACHA_POLY1305_SHA256" for TLS_CHACHA20_POLY1305_SHA256 (IANA).
  Policy webex;
  webex.name = "webex-signaling";
  webex.source =
      "001_0143181e3fa0e64a.txt, \"Transportprotocollen en versleutelingscodes voor cloudgeregistreerde "
      "Webex-apps en -apparaten\" (transport protocols and cipher suites)";
  webex.required_versions = {V::tls1_2};
  webex.allowed_versions = {V::tls1_2, V::tls1_3};
  webex.allowed_suites[V::tls1_2] = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                     "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"};
  webex.allowed_suites[V::tls1_3] = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                     "TLS_AES_128_GCM_SHA256"};
  out.push_back(webex);

  // Seed 004_b4a235089d171467.txt, section "Identitets- och säkerhetskrav för
  // XSP" > "Kravlista" (identity and security requirements for XSP > list of
  // requirements): Xsi must support TLSv1.2; suites must use DHE or ECDHE key
  // exchange, AES with at least 128 bits, GCM or CBC, and CBC only with SHA-2
  // (SHA256/SHA384/SHA512). The same section's "TLS-chiffer som stöds för
  // AuthService- och XSI-gränssnitt" (supported suites) also lists ChaCha20
  // suites that the rule's "AES" does not cover: those are exceptions.
  Policy xsp;
  xsp.name = "broadworks-xsp";
  xsp.source =
      "004_b4a235089d171467.txt, \"Identitets- och säkerhetskrav för XSP\" > \"Kravlista\" (XSP identity and "
      "security requirements > requirement list)";
  xsp.required_versions = {V::tls1_2};
  xsp.allowed_versions = {V::tls1_0, V::tls1_1, V::tls1_2, V::tls1_3};
  xsp.rule = SuiteRule{{"DHE", "ECDHE"}, {"AES_128", "AES_256"}, {"GCM", "CBC"}, {"SHA256", "SHA384", "SHA512"}};
  xsp.listed_exceptions = {
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",     "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",   "TLS_CHACHA20_POLY1305_SHA256"};
  out.push_back(xsp);
  return out;
}

const std::vector<Policy>& policies() {
  static const std::vector<Policy> p = build_policies();
  return p;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

}  // namespace

const Policy* find_policy(const std::string& name) {
  for (const auto& p : policies())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> policy_names() {
  std::vector<std::string> out;
  for (const auto& p : policies()) out.push_back(p.name);
  return out;
}

bool meets_rule(const SuiteRule& r, const std::string& suite) {
  if (suite.rfind("TLS_", 0) != 0) return false;
  std::string rest = suite.substr(4);
  auto with = rest.find("_WITH_");
  std::string kx, cipher;
  if (with == std::string::npos) {  // TLS 1.3: (EC)DHE is mandatory, the name is cipher + hash
    kx = "ECDHE";
    cipher = rest;
  } else {
    kx = rest.substr(0, rest.find('_'));
    cipher = rest.substr(with + 6);
  }
  if (!contains(r.key_exchanges, kx)) return false;
  bool cipher_ok = std::any_of(r.ciphers.begin(), r.ciphers.end(),
                               [&](const std::string& c) { return cipher.rfind(c + "_", 0) == 0; });
  if (!cipher_ok) return false;
  std::string mode;
  for (const auto& m : r.modes)
    if (cipher.find("_" + m + "_") != std::string::npos) mode = m;
  if (mode.empty()) return false;
  if (mode == "CBC") {
    std::string mac = cipher.substr(cipher.rfind('_') + 1);
    return contains(r.cbc_macs, mac);
  }
  return true;
}

bool policy_allows(const Policy& p, TlsVersion v, const std::string& suite) {
  if (p.rule) return meets_rule(*p.rule, suite);
  auto it = p.allowed_suites.find(v);
  return it != p.allowed_suites.end() && contains(it->second, suite);
}

std::vector<Finding> evaluate_policy(const Policy& p, const std::map<TlsVersion, VersionScan>& scan) {
  std::vector<Finding> out;
  std::string cite = " (policy " + p.name + ", " + p.source + ")";
  for (auto v : kAllVersions) {
    auto it = scan.find(v);
    if (it == scan.end() || !it->second.tested) continue;
    const VersionScan& s = it->second;
    bool required = std::count(p.required_versions.begin(), p.required_versions.end(), v) > 0;
    bool allowed = std::count(p.allowed_versions.begin(), p.allowed_versions.end(), v) > 0;
    if (required && !s.supported)
      out.push_back(make_finding(
          v == V::tls1_2 ? Severity::critical : Severity::warning, "tls.policy_version_missing",
          fmt::format("The server does not offer {}, which the policy requires{}.", version_label(v), cite),
          fmt::format("Enable {} on the server.", version_label(v))));
    if (!s.supported) continue;
    if (!allowed) {
      out.push_back(
          make_finding(Severity::warning, "tls.policy_version_forbidden",
                       fmt::format("The server accepts {}, which the policy does not use{}.", version_label(v), cite),
                       fmt::format("Disable {} on the server.", version_label(v))));
      continue;  // every suite of a forbidden version is covered by this finding
    }
    std::vector<std::string> forbidden, exceptions, ok;
    for (const auto& c : s.ciphers) {
      if (policy_allows(p, v, c))
        ok.push_back(c);
      else if (contains(p.listed_exceptions, c))
        exceptions.push_back(c);
      else
        forbidden.push_back(c);
    }
    if (!forbidden.empty())
      out.push_back(make_finding(Severity::warning, "tls.policy_forbidden_suites",
                                 fmt::format("{} accepts {} suite(s) the policy forbids: {}{}.", version_label(v),
                                             forbidden.size(), join(forbidden), cite),
                                 "Remove these suites from the server's cipher configuration."));
    if (!exceptions.empty())
      out.push_back(make_finding(Severity::info, "tls.policy_listed_exception",
                                 fmt::format("{} accepts {} outside the requirement rule but on the document's list of "
                                             "supported suites{}.",
                                             version_label(v), join(exceptions), cite),
                                 "No change needed; prefer AES-GCM suites first."));
    if (ok.empty() && exceptions.empty())
      out.push_back(make_finding(
          Severity::critical, "tls.policy_no_allowed_suite",
          fmt::format("{} is offered but none of its accepted suites meets the policy{}.", version_label(v), cite),
          "Enable at least one suite the policy names (ECDHE with AES-GCM)."));
    auto pref = p.allowed_suites.find(v);
    if (s.server_order.value_or(false) && pref != p.allowed_suites.end() && ok.size() > 1) {
      std::vector<std::string> expected;
      for (const auto& c : pref->second)
        if (contains(ok, c)) expected.push_back(c);
      if (expected != ok)
        out.push_back(make_finding(Severity::info, "tls.policy_order_differs",
                                   fmt::format("{} server order ({}) differs from the policy's preference ({}){}.",
                                               version_label(v), join(ok), join(expected), cite),
                                   "Order the server's suites as the policy lists them."));
    }
  }
  return out;
}

}  // namespace callready::checks::tls
