// The four built-in Webex profiles: they load, every rule cites a seed file
// and section, remediation cites the same seed, variables are documented and
// used, unset variables skip exactly the rules that need them (naming the
// --set that runs them), published data is referenced rather than copied, and
// `profiles show` output round-trips through the loader.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "probe/profile.hpp"

using namespace callready;

namespace {

const std::vector<std::string> kWebexProfiles = {"webex-calling", "webex-meetings", "webex-b2b-sip", "broadworks-xsp"};

const std::regex kSeedSource(
    R"(^(000_657a5ed6fe137e34|001_0143181e3fa0e64a|002_852466f92b0780e0|003_a50bd3723deaca1a|004_b4a235089d171467)\.txt § .+? \(.+\).*)");

Profile load_builtin(const std::string& name) {
  auto text = builtin_profile_text(name);
  REQUIRE_MESSAGE(text.has_value(), name << " is not embedded");
  auto load = load_profile_text(*text, "built-in:" + name);
  std::string errors;
  for (const auto& e : load.errors) errors += e + "\n";
  REQUIRE_MESSAGE(load.profile.has_value(), errors);
  return *load.profile;
}

std::set<std::string> variables_used(const json& j) {
  std::set<std::string> out;
  static const std::regex ref(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    for (std::sregex_iterator it(s.begin(), s.end(), ref), end; it != end; ++it) out.insert((*it)[1]);
  } else if (j.is_structured()) {
    for (const auto& e : j) out.merge(variables_used(e));
  }
  return out;
}

// A CIDR list written out in a profile instead of {"$data": NAME}.
bool has_literal_cidr_list(const json& j) {
  static const std::regex cidr(R"(^[0-9a-fA-F:.]+/[0-9]{1,3}$)");
  if (j.is_array()) {
    int n = 0;
    for (const auto& e : j)
      if (e.is_string() && std::regex_match(e.get<std::string>(), cidr)) ++n;
    if (n >= 2) return true;
  }
  if (j.is_structured())
    for (const auto& e : j)
      if (has_literal_cidr_list(e)) return true;
  return false;
}

}  // namespace

TEST_CASE("the four Webex profiles are built in and webex-calling is among them") {
  std::set<std::string> names;
  for (const auto& b : list_builtin_profiles()) names.insert(b.name);
  for (const auto& n : kWebexProfiles) CHECK_MESSAGE(names.count(n) == 1, n);
}

TEST_CASE("every built-in Webex profile validates and every rule cites a seed file and section") {
  for (const auto& name : kWebexProfiles) {
    CAPTURE(name);
    Profile p = load_builtin(name);
    CHECK(p.name == name);
    CHECK_FALSE(p.description.empty());
    CHECK(p.checks.size() >= 3);
    for (const auto& r : p.checks) {
      CAPTURE(r.id);
      CHECK_FALSE(r.requirement.text.empty());
      CHECK(std::regex_match(r.requirement.source, kSeedSource));
      CHECK_FALSE(r.description.empty());
      // Remediation says what to change and cites the same seed ("000 § ...").
      REQUIRE_FALSE(r.remediation.empty());
      CHECK_MESSAGE(r.remediation.find(r.requirement.source.substr(0, 3) + " ") != std::string::npos,
                    "remediation does not cite seed " << r.requirement.source.substr(0, 3));
      CHECK((r.category == "dns" || r.category == "signaling" || r.category == "tls" || r.category == "media" ||
             r.category == "network" || r.category == "quality"));
    }
  }
}

TEST_CASE("variables are described, all used, and unset ones skip exactly their rules") {
  for (const auto& name : kWebexProfiles) {
    CAPTURE(name);
    Profile p = load_builtin(name);
    std::set<std::string> required;
    for (const auto& v : p.variables) {
      CAPTURE(v.name);
      CHECK(v.description.size() >= 20);
      if (!v.default_value) required.insert(v.name);
    }
    std::set<std::string> used;
    for (const auto& r : p.checks) used.merge(variables_used(r.params));
    for (const auto& v : p.variables) CHECK_MESSAGE(used.count(v.name) == 1, "variable " << v.name << " is unused");

    auto build = build_plan(p, {});
    REQUIRE(build.plan.has_value());
    for (const auto& c : build.plan->checks) {
      CAPTURE(c.rule.id);
      std::set<std::string> missing;
      for (const auto& v : variables_used(c.rule.params))
        if (required.count(v)) missing.insert(v);
      CHECK(c.skip_reason.has_value() == !missing.empty());
      for (const auto& v : missing) {
        REQUIRE(c.skip_reason.has_value());
        CHECK_MESSAGE(c.skip_reason->find("--set " + v + "=") != std::string::npos, *c.skip_reason);
      }
    }
  }
}

TEST_CASE("the default profile runs built-in hosts without any --set") {
  auto build = build_plan(load_builtin("webex-calling"), {});
  REQUIRE(build.plan.has_value());
  int runnable = 0;
  for (const auto& c : build.plan->checks)
    if (!c.skip_reason) ++runnable;
  CHECK(runnable >= 8);
}

TEST_CASE("with every variable set, every rule of every profile validates and runs") {
  // Plausible values only; nothing is sent.
  std::map<std::string, std::string> sets = {
      {"calling_edge", "edge.example.com"},      {"responder", "192.0.2.10"},
      {"meetings_site", "example.webex.com"},    {"sip_domain", "example.com"},
      {"sbc_host", "sbc.example.com"},           {"sbc_address", "192.0.2.20"},
      {"webex_sips_server", "sips.example.com"}, {"xsi_domain", "xsi.example.com"},
      {"xsp_host", "xsp.example.com"},           {"idbroker_host", "idbroker-eu.webex.com"},
      {"sbc_cert", "/etc/callready/sbc.pem"},    {"sbc_key", "/etc/callready/sbc.key"},
      {"ntp_server", "ntp.example.com"},         {"device_ntp_server", "192.0.2.30"},
      {"authservice_host", "xsp.example.com"},   {"dms_host", "dms.example.com"},
      {"cti_host", "cti.example.com"},           {"cti_port", "8443"}};
  for (const auto& name : kWebexProfiles) {
    CAPTURE(name);
    Profile p = load_builtin(name);
    PlanOptions opts;
    for (const auto& v : p.variables) {
      REQUIRE_MESSAGE(sets.count(v.name) == 1, "no test value for variable " << v.name);
      opts.sets[v.name] = sets[v.name];
    }
    auto build = build_plan(p, opts);
    std::string errors;
    for (const auto& e : build.errors) errors += e + "\n";
    REQUIRE_MESSAGE(build.plan.has_value(), errors);
    for (const auto& c : build.plan->checks) {
      CAPTURE(c.rule.id);
      CHECK_FALSE(c.skip_reason.has_value());
      CHECK(variables_used(c.params).empty());
      CHECK(c.params.dump().find("$data") == std::string::npos);
    }
  }
}

TEST_CASE("published data is referenced from the shared catalog, not copied into rules") {
  const json& data = data_catalog();
  REQUIRE(data.contains("webex_calling_subnets_v4"));
  CHECK(data["webex_calling_subnets_v4"].size() == 17);
  CHECK(data["webex_media_subnets_v4"].size() == 32);
  CHECK(data["webex_media_subnets_v6"].size() == 3);
  CHECK(data["mtu_recommended"] == 1500);
  CHECK(data["mtu_minimum"] == 1300);
  CHECK(data["dscp_voice"] == 46);
  CHECK(data["dscp_video"] == 34);
  CHECK(data["dscp_device_signalling"] == 24);
  CHECK(data["dscp_app_signalling"] == 0);
  CHECK(data["xsp_supported_ciphers"].size() == 53);
  CHECK(data["webex_signaling_tls_policy"]["allowed_suites"]["tls1.2"][0] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");

  // Every entry says where it is published, and every documented name exists.
  REQUIRE(data.contains("data_sources"));
  for (const auto& [k, v] : data.items()) {
    if (k == "data_sources") continue;
    CAPTURE(k);
    REQUIRE(data["data_sources"].contains(k));
    CHECK(std::regex_search(data["data_sources"][k].get<std::string>(), std::regex(R"(\b00[0-4]\b|00[0-4]_)")));
  }
  for (const auto& [k, v] : data["data_sources"].items())
    if (k != "about") CHECK_MESSAGE(data.contains(k), k);

  // The subnets reach the rule that needs them by reference.
  PlanOptions options;
  options.sets = {{"calling_edge", "edge.example.com"}};
  auto build = build_plan(load_builtin("webex-calling"), options);
  REQUIRE(build.plan.has_value());
  bool found = false;
  for (const auto& c : build.plan->checks)
    if (c.rule.id == "dns-calling-edge-in-calling-subnets") {
      found = true;
      CHECK(c.params["expect_in_subnets"] == data["webex_calling_subnets_v4"]);
    }
  CHECK(found);

  // No profile writes out a subnet list of its own.
  for (const auto& name : kWebexProfiles) {
    auto doc = json::parse(*builtin_profile_text(name));
    for (const auto& c : doc["checks"]) CHECK_MESSAGE(!has_literal_cidr_list(c["params"]), name << " " << c["id"]);
  }
}

TEST_CASE("profiles show output round-trips through the loader") {
  for (const auto& name : kWebexProfiles) {
    CAPTURE(name);
    Profile p = load_builtin(name);
    auto build = build_plan(p, {});
    REQUIRE(build.plan.has_value());
    json shown = plan_to_json(*build.plan, p);

    auto again = load_profile_text(shown.dump(2), "shown:" + name);
    std::string errors;
    for (const auto& e : again.errors) errors += e + "\n";
    REQUIRE_MESSAGE(again.profile.has_value(), errors);
    auto rebuild = build_plan(*again.profile, {});
    REQUIRE(rebuild.plan.has_value());
    CHECK(plan_to_json(*rebuild.plan, *again.profile) == shown);
    CHECK(shown["checks"].size() == p.checks.size());
  }
}
