// Profile loading: one fixture per invalid case, substitution, --set, $data, selection.
#include "probe/profile.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include "tests/support/process.hpp"

using namespace callready;

namespace {
const std::string kFixtures = std::string(CALLREADY_SOURCE_DIR) + "/tests/fixtures/profiles/invalid/";

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}
}  // namespace

TEST_CASE("every invalid fixture is rejected with an error naming the file and the JSON path") {
  // fixture -> a piece of the expected message
  const std::map<std::string, std::string> expected = {
      {"invalid_json.json", "invalid JSON: parse error at line 1, column"},
      {"not_object.json", "a profile is a JSON object"},
      {"missing_name.json", "name: required"},
      {"missing_checks.json", "checks: required: a non-empty list"},
      {"empty_checks.json", "checks: required: a non-empty list"},
      {"duplicate_id.json", "checks[1].id: duplicate id \"a\""},
      {"bad_id.json", "checks[0].id: required: letters, digits"},
      {"unknown_kind.json", "checks[0].kind: unknown check kind \"telepathy\" (known: "},
      {"missing_category.json", "checks[0].category: required"},
      {"bad_severity.json", "checks[0].severity: expected \"warning\" or \"critical\""},
      {"bad_port.json", "checks[1].params.port: expected an integer 1-65535"},
      {"missing_param.json", "checks[0].params.host: required"},
      {"unknown_param.json", "checks[0].params.prot: unknown parameter"},
      {"unknown_top_key.json", "chekcs: unknown key"},
      {"unknown_rule_key.json", "checks[0].severty: unknown key"},
      {"undeclared_variable.json", "checks[0].params: uses ${sbc} but the profile declares no variable \"sbc\""},
      {"bad_variable.json", "variables.domain: expected a default value"},
      {"bad_requirement.json", "checks[0].requirement.source: required"},
      {"unknown_data.json", "checks[0].params.expect_in_subnets: unknown data \"no_such_list\""},
      {"bad_cidr.json", "checks[0].params.expect_in_subnets[0]: expected a CIDR"},
      {"bad_dns_type.json", "checks[0].params.type: expected one of A, AAAA, SRV, PTR, got \"MX\""},
      {"bad_timeout.json", "checks[0].params.timeout_ms: expected an integer 1-3600000"},
      {"bad_default_value.json", "checks[0].params.port: expected an integer 1-65535"},
  };
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures)) {
    ++files;
    auto name = entry.path().filename().string();
    CAPTURE(name);
    REQUIRE_MESSAGE(expected.count(name), "fixture without an expectation in this test");
    auto load = load_profile(entry.path().string());
    CHECK_FALSE(load.profile);
    REQUIRE_FALSE(load.errors.empty());
    auto all = joined(load.errors);
    CAPTURE(all);
    CHECK(all.find(entry.path().string() + ": ") != std::string::npos);
    CHECK(all.find(expected.at(name)) != std::string::npos);
  }
  CHECK(files == expected.size());
}

TEST_CASE("a missing profile names the built-in profiles") {
  auto load = load_profile("/nonexistent/profile.json");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].find("no built-in profile of that name") != std::string::npos);
  CHECK(load.errors[0].find("webex-calling") != std::string::npos);
}

namespace {
const char* kProfile = R"({
  "name": "t",
  "description": "test",
  "variables": {
    "domain": {"default": null, "description": "Customer SIP domain"},
    "port": "5061",
    "host": {"default": "127.0.0.1"}
  },
  "data": {"nets": ["203.0.113.0/24"]},
  "checks": [
    {"id": "srv", "kind": "dns", "category": "dns", "params": {"name": "_sips._tcp.${domain}", "type": "SRV"}},
    {"id": "a", "kind": "dns", "category": "dns", "params": {"name": "sbc.example.test", "type": "A",
       "expect_in_subnets": {"$data": "nets"}, "timeout_ms": 1234}},
    {"id": "sips", "kind": "tcp", "category": "signaling", "severity": "warning",
       "params": {"host": "${host}", "port": "${port}"}}
  ]
})";
}

TEST_CASE("variables, $data and selection build the plan") {
  auto load = load_profile_text(kProfile, "t.json");
  REQUIRE_MESSAGE(load.profile, joined(load.errors));
  const auto& p = *load.profile;
  CHECK(p.checks[1].params["expect_in_subnets"] == json::array({"203.0.113.0/24"}));

  SUBCASE("required variable unset: its rules are skipped with the --set that runs them") {
    auto built = build_plan(p, {});
    REQUIRE(built.plan);
    const auto& c = built.plan->checks;
    REQUIRE(c.size() == 3);
    REQUIRE(c[0].skip_reason);
    CHECK(*c[0].skip_reason == "needs --set domain=<Customer SIP domain>");
    CHECK_FALSE(c[1].skip_reason);
    CHECK(c[1].timeout == Millis(1234));
    CHECK(c[2].params["host"] == "127.0.0.1");
    CHECK(c[2].params["port"] == "5061");
    CHECK(c[2].target == "127.0.0.1:5061");
    CHECK(c[2].timeout == Millis(8000));                           // the tcp kind's default
    CHECK(default_overall_timeout(*built.plan) == Millis(60000));  // nothing runs longer than 55 s
  }
  SUBCASE("the default deadline covers the longest check that runs, never a skipped one") {
    auto built = build_plan(p, {});
    REQUIRE(built.plan);
    auto plan = *built.plan;
    plan.checks[1].timeout = Millis(170000);
    CHECK(default_overall_timeout(plan) == Millis(175000));
    plan.checks[0].timeout = Millis(900000);  // skipped: needs --set domain
    CHECK(default_overall_timeout(plan) == Millis(175000));
  }
  SUBCASE("--set fills the variable everywhere it is used") {
    PlanOptions o;
    o.sets = {{"domain", "example.test"}, {"port", "443"}};
    auto built = build_plan(p, o);
    REQUIRE(built.plan);
    CHECK(built.plan->checks[0].params["name"] == "_sips._tcp.example.test");
    CHECK_FALSE(built.plan->checks[0].skip_reason);
    CHECK(built.plan->checks[2].target == "127.0.0.1:443");
    CHECK(built.plan->variables.at("domain") == "example.test");
  }
  SUBCASE("--responder fills a `responder` variable unless --set gave one") {
    auto with_var = load_profile_text(
        R"({"name":"r","variables":{"responder":null},"checks":[{"id":"t","kind":"tcp","category":"c","params":{"host":"${responder}","port":7447}}]})",
        "r.json");
    REQUIRE(with_var.profile);
    PlanOptions o;
    o.responder = "198.51.100.7";
    CHECK(build_plan(*with_var.profile, o).plan->checks[0].target == "198.51.100.7:7447");
    o.sets = {{"responder", "203.0.113.10"}};
    CHECK(build_plan(*with_var.profile, o).plan->checks[0].target == "203.0.113.10:7447");
  }
  SUBCASE("a bad --set value is reported with the rule's path") {
    PlanOptions o;
    o.sets = {{"port", "https"}};
    auto built = build_plan(p, o);
    REQUIRE_FALSE(built.plan);
    CHECK(joined(built.errors).find("checks[2].params.port: expected an integer 1-65535 (after --set port=https)") !=
          std::string::npos);
  }
  SUBCASE("--set of an unknown variable names the ones that exist") {
    PlanOptions o;
    o.sets = {{"domian", "x"}};
    auto built = build_plan(p, o);
    REQUIRE_FALSE(built.plan);
    CHECK(joined(built.errors)
              .find("--set domian: profile \"t\" has no variable \"domian\" (it has: domain, host, port)") !=
          std::string::npos);
  }
  SUBCASE("--only and --skip select by id or kind") {
    PlanOptions o;
    o.only = {"dns"};
    o.skip = {"srv"};
    auto built = build_plan(p, o);
    REQUIRE(built.plan);
    REQUIRE(built.plan->checks.size() == 1);
    CHECK(built.plan->checks[0].rule.id == "a");
    PlanOptions bad;
    bad.only = {"nothing"};
    CHECK_FALSE(build_plan(p, bad).plan);
  }
  SUBCASE("the shown plan is itself a valid profile that builds the same plan") {
    PlanOptions o;
    o.sets = {{"port", "443"}};
    auto plan = build_plan(p, o).plan;
    auto shown = plan_to_json(*plan, p);
    auto again = load_profile_text(shown.dump(), "shown.json");
    REQUIRE_MESSAGE(again.profile, joined(again.errors));
    auto plan2 = build_plan(*again.profile, {}).plan;
    REQUIRE(plan2);
    REQUIRE(plan2->checks.size() == plan->checks.size());
    for (std::size_t i = 0; i < plan->checks.size(); ++i) {
      CHECK(plan2->checks[i].target == plan->checks[i].target);
      CHECK(plan2->checks[i].timeout == plan->checks[i].timeout);
      CHECK(plan2->checks[i].skip_reason.has_value() == plan->checks[i].skip_reason.has_value());
    }
    CHECK(plan_to_json(*plan2, *again.profile) == shown);
  }
}

TEST_CASE("parse_set") {
  CHECK(parse_set("domain=example.com") == std::make_pair(std::string("domain"), std::string("example.com")));
  CHECK(parse_set("k=a=b")->second == "a=b");
  CHECK(parse_set("k=")->second == "");
  CHECK_FALSE(parse_set("=x"));
  CHECK_FALSE(parse_set("novalue"));
  CHECK_FALSE(parse_set("bad key=x"));
}

TEST_CASE("every built-in profile loads, and the data catalog parses") {
  auto list = list_builtin_profiles();
  REQUIRE_FALSE(list.empty());
  for (const auto& b : list) {
    CAPTURE(b.name);
    auto load = load_profile(b.name);
    CHECK_MESSAGE(load.profile, joined(load.errors));
    CHECK_FALSE(b.description.empty());
  }
  CHECK(data_catalog().is_object());
}
