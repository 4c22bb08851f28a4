// The exporter's modules, with no network: which variable `target` fills in
// every built-in module, module files (target_variable, background
// schedule) refused with a reason, a query's plan, and the background
// results' schedule and bounds.
#include <doctest/doctest.h>

#include <thread>

#include "probe/exporter/modules.hpp"
#include "probe/exporter/probe_run.hpp"
#include "probe/profile.hpp"

using namespace callready;
using namespace callready::exporter;

namespace {

std::shared_ptr<const ModuleSet> builtins() {
  auto loaded = load_modules("");
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.set);
  return loaded.set;
}

bool mentions(const std::vector<std::string>& errors, const std::string& text) {
  for (const auto& e : errors)
    if (e.find(text) != std::string::npos) return true;
  return false;
}

ProbeQuery query(std::string target, std::map<std::string, std::string> sets = {}) {
  ProbeQuery q;
  q.module = "m";
  q.target = std::move(target);
  q.sets = std::move(sets);
  return q;
}

// Waits (bounded, 5 s) until `n` background runs have completed.
bool completed(const BackgroundResults& results, std::size_t n) {
  for (int i = 0; i < 500 && results.completed_runs() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return results.completed_runs() >= n;
}

}  // namespace

TEST_CASE("every built-in module has a variable for target to fill") {
  auto set = builtins();
  for (const auto& info : list_builtin_profiles()) {
    REQUIRE(set->modules.count(info.name));
    const auto& module = *set->modules.at(info.name);
    MESSAGE("module ", info.name, ": target fills ", module.target_variable);
    CHECK_FALSE(module.target_variable.empty());
  }
  CHECK(set->modules.at("loopback-demo")->target_variable == "responder");
  CHECK(set->modules.at("webex-calling")->target_variable == "responder");
  // No `target` and no `responder`: the first variable by name that has no default.
  const auto& xsp = *set->modules.at("broadworks-xsp");
  std::set<std::string> required;
  for (const auto& v : xsp.profile.variables)
    if (!v.default_value) required.insert(v.name);
  REQUIRE_FALSE(required.empty());
  CHECK(xsp.target_variable == *required.begin());
}

TEST_CASE("a module file may name the variable target fills") {
  auto file = parse_module_file(R"({"profile": "broadworks-xsp", "target_variable": "xsp_host"})", "m.json");
  REQUIRE(file.module);
  CHECK(file.module->target_variable == "xsp_host");
  auto unknown = parse_module_file(R"({"profile": "broadworks-xsp", "target_variable": "nope"})", "m.json");
  CHECK_FALSE(unknown.module);
  CHECK(mentions(unknown.errors, "m.json: target_variable: profile \"broadworks-xsp\" has no variable \"nope\""));
  auto not_a_name = parse_module_file(R"({"profile": "broadworks-xsp", "target_variable": 3})", "m.json");
  CHECK_FALSE(not_a_name.module);
  CHECK(mentions(not_a_name.errors, "target_variable: expected a variable name"));
}

TEST_CASE("module files are refused with the reason: unknown key, check, interval, profile") {
  auto key = parse_module_file(R"({"profile": "loopback-demo", "shedule": {}})", "a.json");
  CHECK_FALSE(key.module);
  CHECK(mentions(key.errors, "a.json: shedule: unknown key"));
  auto check = parse_module_file(R"({"profile": "loopback-demo", "background": {"checks": ["nope"]}})", "b.json");
  CHECK_FALSE(check.module);
  CHECK(mentions(check.errors, "has no check \"nope\""));
  auto interval = parse_module_file(R"({"profile": "loopback-demo", "background": {"interval_s": 5}})", "c.json");
  CHECK_FALSE(interval.module);
  CHECK(mentions(interval.errors, "background.interval_s: expected an integer 10-86400"));
  auto profile = parse_module_file(R"({"profile": "no-such-profile"})", "d.json");
  CHECK_FALSE(profile.module);
  CHECK_FALSE(profile.errors.empty());
  auto json = parse_module_file("{", "e.json");
  CHECK_FALSE(json.module);
  CHECK(mentions(json.errors, "e.json: invalid JSON"));
}

TEST_CASE("a background schedule is kept with its interval") {
  auto file = parse_module_file(
      R"({"profile": "loopback-demo", "background": {"checks": ["udp-range-media"], "interval_s": 600}})", "bg.json");
  REQUIRE(file.module);
  CHECK(file.module->background == std::set<std::string>{"udp-range-media"});
  CHECK(file.module->interval == std::chrono::seconds(600));
}

TEST_CASE("target fills the module's variable, set.<var> the others, and neither may clash") {
  auto set = builtins();
  const auto& demo = *set->modules.at("loopback-demo");
  auto plan = plan_for(demo, query("192.0.2.7"));
  REQUIRE(std::holds_alternative<Plan>(plan));
  CHECK(std::get<Plan>(plan).variables.at("responder") == "192.0.2.7");
  auto clash = plan_for(demo, query("192.0.2.7", {{"responder", "192.0.2.8"}}));
  REQUIRE(std::holds_alternative<Refusal>(clash));
  CHECK(std::get<Refusal>(clash).status == 400);
  CHECK(std::get<Refusal>(clash).body.find("set.responder conflicts with target") != std::string::npos);
  auto unknown = plan_for(demo, query("192.0.2.7", {{"nosuch", "1"}}));
  REQUIRE(std::holds_alternative<Refusal>(unknown));
  CHECK(std::get<Refusal>(unknown).body.find("nosuch") != std::string::npos);

  // A module file says which variable target fills; the others come from set.<var>
  // or leave the checks that need them skipped, each saying what it needs.
  auto file = parse_module_file(R"({"profile": "broadworks-xsp", "target_variable": "xsi_domain"})", "x.json");
  REQUIRE(file.module);
  auto needs_xsp_host = [](const Plan& plan) {
    return std::any_of(plan.checks.begin(), plan.checks.end(), [](const PlannedCheck& c) {
      return c.skip_reason && c.skip_reason->find("xsp_host") != std::string::npos;
    });
  };
  auto partial = plan_for(*file.module, query("xsi.example.com"));
  REQUIRE(std::holds_alternative<Plan>(partial));
  CHECK(std::get<Plan>(partial).variables.at("xsi_domain") == "xsi.example.com");
  CHECK(needs_xsp_host(std::get<Plan>(partial)));
  auto both = plan_for(*file.module, query("xsi.example.com", {{"xsp_host", "xsp.example.com"}}));
  REQUIRE(std::holds_alternative<Plan>(both));
  CHECK(std::get<Plan>(both).variables.at("xsp_host") == "xsp.example.com");
  CHECK_FALSE(needs_xsp_host(std::get<Plan>(both)));
}

TEST_CASE("background results: the first ask starts a run, later asks serve it until the interval passes") {
  BackgroundResults results(4, 2);
  std::atomic<int> runs{0};
  auto run = [&runs] {
    ++runs;
    CheckRecord c;
    c.id = "nat-udp";
    c.status = Status::pass;
    return std::vector<CheckRecord>{c};
  };
  CHECK_FALSE(results.last_and_schedule("site-a", std::chrono::seconds(600), run));
  REQUIRE(completed(results, 1));
  auto last = results.last_and_schedule("site-a", std::chrono::seconds(600), run);
  REQUIRE(last);
  REQUIRE(last->records.size() == 1);
  CHECK(last->records[0].id == "nat-udp");
  CHECK(last->measured_at > 1.7e9);
  CHECK(runs == 1);  // within the interval: no second run
  CHECK(results.last_and_schedule("site-a", std::chrono::seconds(0), run));
  REQUIRE(completed(results, 2));
  CHECK(runs == 2);  // the interval passed: a new run
}

TEST_CASE("background results are bounded in targets and in runs at once") {
  BackgroundResults results(1, 1);
  std::atomic<bool> release{false};
  auto slow = [&release] {
    for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return std::vector<CheckRecord>{};
  };
  std::atomic<int> other_runs{0};
  auto other = [&other_runs] {
    ++other_runs;
    return std::vector<CheckRecord>{};
  };
  results.last_and_schedule("site-a", std::chrono::seconds(600), slow);
  CHECK(results.running() == 1);
  // A second target over the bound of 1: no entry, no run.
  CHECK_FALSE(results.last_and_schedule("site-b", std::chrono::seconds(600), other));
  release = true;
  REQUIRE(completed(results, 1));
  CHECK(results.running() == 0);
  CHECK(other_runs == 0);
}
