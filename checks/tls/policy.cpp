#include "checks/tls/policy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/common/finding.hpp"

namespace callready::checks::tls {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool contains(const std::vector<TlsVersion>& v, TlsVersion x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

std::vector<TlsVersion> read_versions(ParamReader& r, const std::string& key, std::vector<std::string> fallback) {
  std::vector<TlsVersion> out;
  auto keys = r.string_list_or(key, std::move(fallback));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto v = version_from_key(keys[i]);
    if (!v)
      r.error(fmt::format("{}[{}]", key, i), "expected tls1.0, tls1.1, tls1.2 or tls1.3");
    else if (!contains(out, *v))
      out.push_back(*v);
  }
  return out;
}

std::vector<std::string> required_list(ParamReader& r, const std::string& key) {
  auto list = r.string_list_or(key);
  if (list.empty()) r.error(key, "expected a non-empty list of strings");
  return list;
}

// Moves a nested reader's errors to the outer one, under `prefix`.
void adopt(ParamReader& outer, const ParamReader& inner, const std::string& prefix) {
  for (const auto& e : inner.errors()) outer.error(e.path.empty() ? prefix : prefix + "." + e.path, e.message);
}

}  // namespace

std::optional<Policy> read_policy(ParamReader& outer, const std::string& key) {
  const nlohmann::json* j = outer.raw(key);
  if (!j) return std::nullopt;
  if (!j->is_object()) {
    outer.error(key,
                "expected a policy object (name, source, allowed_versions, allowed_suites, ...), usually "
                "{\"$data\": NAME}");
    return std::nullopt;
  }
  ParamReader r(*j);
  Policy p;
  p.name = r.string("name");
  p.source = r.string_or("source", "");
  p.required_versions = read_versions(r, "required_versions", {});
  p.allowed_versions = read_versions(r, "allowed_versions", {"tls1.0", "tls1.1", "tls1.2", "tls1.3"});
  for (auto v : p.required_versions)
    if (!contains(p.allowed_versions, v))
      r.error("required_versions", fmt::format("{} is required but not in allowed_versions", version_key(v)));
  if (const auto* lists = r.raw("allowed_suites")) {
    ParamReader lr(*lists);
    for (auto v : kAllVersions)
      if (lists->is_object() && lists->contains(version_key(v)))
        p.allowed_suites[v] = required_list(lr, version_key(v));
    lr.finish();
    adopt(r, lr, "allowed_suites");
  }
  if (const auto* rule = r.raw("suite_rule")) {
    ParamReader rr(*rule);
    SuiteRule s;
    s.key_exchanges = required_list(rr, "key_exchanges");
    s.ciphers = required_list(rr, "ciphers");
    s.modes = required_list(rr, "modes");
    s.cbc_macs = rr.string_list_or("cbc_macs");
    rr.finish();
    adopt(r, rr, "suite_rule");
    p.suite_rule = std::move(s);
  }
  p.forbidden_suites = r.string_list_or("forbidden_suites");
  p.listed_exceptions = r.string_list_or("listed_exceptions");
  r.finish();
  adopt(outer, r, key);
  if (!r.ok()) return std::nullopt;
  return p;
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
  if (mode == "CBC") return contains(r.cbc_macs, cipher.substr(cipher.rfind('_') + 1));
  return true;
}

bool version_allowed(const Policy& p, TlsVersion v) { return contains(p.allowed_versions, v); }

SuiteVerdict judge_suite(const Policy& p, TlsVersion v, const std::string& suite) {
  if (contains(p.forbidden_suites, suite)) return SuiteVerdict::forbidden;
  auto list = p.allowed_suites.find(v);
  bool listed = list != p.allowed_suites.end() && contains(list->second, suite);
  bool unrestricted = p.allowed_suites.empty() && !p.suite_rule;
  if (unrestricted || listed || (p.suite_rule && meets_rule(*p.suite_rule, suite))) return SuiteVerdict::allowed;
  if (contains(p.listed_exceptions, suite)) return SuiteVerdict::listed_exception;
  return SuiteVerdict::forbidden;
}

std::vector<std::string> unknown_suites(const Policy& p) {
  std::vector<std::string> out;
  auto add = [&](const std::vector<std::string>& names) {
    for (const auto& s : names)
      if (!find_suite(s) && !contains(out, s)) out.push_back(s);
  };
  for (const auto& [v, list] : p.allowed_suites) add(list);
  add(p.listed_exceptions);
  return out;
}

std::vector<Finding> evaluate_policy(const Policy& p, const std::map<TlsVersion, VersionScan>& scan) {
  std::vector<Finding> out;
  std::string cite = " (policy " + p.name + ")";
  for (auto v : kAllVersions) {
    auto it = scan.find(v);
    if (it == scan.end() || !it->second.tested) continue;
    const VersionScan& s = it->second;
    if (contains(p.required_versions, v) && !s.supported)
      out.push_back(make_finding(
          v == TlsVersion::tls1_2 ? Severity::critical : Severity::warning, "tls.policy_version_missing",
          fmt::format("The server does not offer {}, which the policy requires{}.", version_label(v), cite),
          fmt::format("Enable {} on the server.", version_label(v))));
    if (!s.supported) continue;
    if (!version_allowed(p, v)) {
      out.push_back(
          make_finding(Severity::warning, "tls.policy_version_forbidden",
                       fmt::format("The server accepts {}, which the policy does not use{}.", version_label(v), cite),
                       fmt::format("Disable {} on the server.", version_label(v))));
      continue;  // every suite of a forbidden version is covered by this finding
    }
    std::vector<std::string> forbidden, exceptions, ok;
    for (const auto& c : s.ciphers) {
      switch (judge_suite(p, v, c)) {
        case SuiteVerdict::allowed:
          ok.push_back(c);
          break;
        case SuiteVerdict::listed_exception:
          exceptions.push_back(c);
          break;
        case SuiteVerdict::forbidden:
          forbidden.push_back(c);
          break;
      }
    }
    if (!forbidden.empty())
      out.push_back(make_finding(Severity::warning, "tls.policy_forbidden_suites",
                                 fmt::format("{} accepts {} suite(s) the policy forbids: {}{}.", version_label(v),
                                             forbidden.size(), join(forbidden), cite),
                                 "Remove these suites from the server's cipher configuration."));
    if (!exceptions.empty())
      out.push_back(make_finding(Severity::info, "tls.policy_listed_exception",
                                 fmt::format("{} accepts {} outside the policy's rule but on its list of supported "
                                             "suites{}.",
                                             version_label(v), join(exceptions), cite),
                                 "No change needed; prefer AES-GCM suites first."));
    if (ok.empty() && exceptions.empty())
      out.push_back(make_finding(
          Severity::critical, "tls.policy_no_allowed_suite",
          fmt::format("{} is offered but none of its accepted suites meets the policy{}.", version_label(v), cite),
          "Enable at least one suite the policy allows."));
    auto pref = p.allowed_suites.find(v);
    if (s.server_order.value_or(false) && pref != p.allowed_suites.end() && ok.size() > 1) {
      std::vector<std::string> expected, served;  // the listed suites only, in each order
      for (const auto& c : pref->second)
        if (contains(ok, c)) expected.push_back(c);
      for (const auto& c : ok)
        if (contains(pref->second, c)) served.push_back(c);
      if (expected != served)
        out.push_back(make_finding(Severity::info, "tls.policy_order_differs",
                                   fmt::format("{} server order ({}) differs from the policy's preference ({}){}.",
                                               version_label(v), join(served), join(expected), cite),
                                   "Order the server's suites as the policy lists them."));
    }
  }
  return out;
}

}  // namespace callready::checks::tls
