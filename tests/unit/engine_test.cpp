// The engine owns deadlines: timeouts, abandoned checks, exceptions, concurrency.
#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/engine.hpp"
#include "probe/registry.hpp"

using namespace callready;
namespace asio = boost::asio;

namespace {

int running_now = 0, running_max = 0;

asio::awaitable<CheckOutcome> sleepy(const json& params, CheckContext&) {
  ++running_now;
  running_max = std::max(running_max, running_now);
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(Millis(params.value("sleep_ms", 10)));
  try {
    co_await t.async_wait(asio::use_awaitable);
  } catch (...) {
    --running_now;
    throw;
  }
  --running_now;
  CheckOutcome o;
  o.summary = "slept";
  if (params.value("fail", false)) o.findings.push_back({Severity::critical, "x.fail", "broken", "fix it", ""});
  co_return o;
}

// Ignores cancellation entirely, like a check stuck in a library call.
asio::awaitable<CheckOutcome> stubborn(const json&, CheckContext&) {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::seconds(30));
  co_await t.async_wait(asio::use_awaitable);
  co_return CheckOutcome{};
}

asio::awaitable<CheckOutcome> thrower(const json&, CheckContext&) {
  throw std::runtime_error("boom");
  co_return CheckOutcome{};
}

CheckKind kind(std::string name, decltype(CheckKind::run) run) {
  CheckKind k;
  k.name = std::move(name);
  k.default_timeout = Millis(5000);
  k.validate = [](const json&) { return std::vector<ParamError>{}; };
  k.target = [](const json&) { return std::string("t"); };
  k.run = std::move(run);
  return k;
}

const CheckKind kSleepy = kind("sleepy", sleepy);
const CheckKind kStubborn = kind("stubborn", stubborn);
const CheckKind kThrower = kind("thrower", thrower);

PlannedCheck planned(const CheckKind& k, std::string id, json params = json::object(), Millis timeout = Millis(5000)) {
  PlannedCheck p;
  p.rule.id = std::move(id);
  p.rule.kind = k.name;
  p.rule.category = "c";
  p.rule.requirement = {"req", "src"};
  p.kind = &k;
  p.params = std::move(params);
  p.timeout = timeout;
  return p;
}

EngineOptions quiet_options() {
  EngineOptions o;
  o.handle_sigint = false;
  o.grace = Millis(100);
  return o;
}

}  // namespace

TEST_CASE("checks run concurrently, bounded by concurrency") {
  Plan plan;
  for (int i = 0; i < 20; ++i) plan.checks.push_back(planned(kSleepy, "s" + std::to_string(i), {{"sleep_ms", 50}}));
  auto o = quiet_options();
  o.concurrency = 5;
  running_now = running_max = 0;
  auto start = Clock::now();
  auto run = run_plan(plan, o);
  auto took = Clock::now() - start;
  CHECK(running_max == 5);
  CHECK(took >= Millis(200));  // 4 waves of 50 ms
  CHECK(took < Millis(1000));
  for (const auto& r : run.records) CHECK(r.status == Status::pass);
}

TEST_CASE("a finding makes a failure; the rule's requirement is attached") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "f", {{"fail", true}}));
  auto run = run_plan(plan, quiet_options());
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0].status == Status::fail);
  CHECK(run.records[0].findings[0].requirement == "req [src]");
}

TEST_CASE("a rule's remediation replaces the check's, except when the name did not resolve") {
  PlannedCheck p = planned(kSleepy, "r");
  p.rule.remediation = "open TCP 443 to the cloud";
  CheckOutcome o;
  o.findings = {{Severity::critical, "tcp.refused", "refused", "generic", ""},
                {Severity::critical, "tcp.no_address", "no name", "fix DNS", ""},
                {Severity::info, "tcp.note", "fyi", "", ""}};
  auto r = make_record(p, o, 1);
  CHECK(r.findings[0].remediation == "open TCP 443 to the cloud");
  CHECK(r.findings[1].remediation == "fix DNS");
  CHECK(r.findings[2].remediation == "");
}

TEST_CASE("a check over its own timeout is cancelled and reported as error/timeout") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "slow", {{"sleep_ms", 5000}}, Millis(100)));
  plan.checks.push_back(planned(kSleepy, "fast", {{"sleep_ms", 10}}));
  auto start = Clock::now();
  auto run = run_plan(plan, quiet_options());
  CHECK(Clock::now() - start < Millis(1000));
  CHECK(run.records[0].status == Status::error);
  REQUIRE(run.records[0].error);
  CHECK(run.records[0].error->reason == "timeout");
  CHECK(run.records[0].summary.find("did not finish within 100 ms") != std::string::npos);
  CHECK(run.records[1].status == Status::pass);
  CHECK_FALSE(run.deadline_reached);
}

TEST_CASE("a check that ignores cancellation is abandoned after the grace period") {
  Plan plan;
  plan.checks.push_back(planned(kStubborn, "stuck", json::object(), Millis(100)));
  auto start = Clock::now();
  auto run = run_plan(plan, quiet_options());
  auto took = Clock::now() - start;
  CHECK(took >= Millis(200));
  CHECK(took < Millis(2000));
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == "timeout");
}

TEST_CASE("an exception is our breakage: error/internal, never a crash") {
  Plan plan;
  plan.checks.push_back(planned(kThrower, "t"));
  auto run = run_plan(plan, quiet_options());
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == "internal");
  CHECK(run.records[0].error->message.find("boom") != std::string::npos);
}

TEST_CASE("the overall deadline ends the scan: running and unstarted checks are error/timeout") {
  Plan plan;
  for (int i = 0; i < 4; ++i) plan.checks.push_back(planned(kSleepy, "s" + std::to_string(i), {{"sleep_ms", 3000}}));
  auto o = quiet_options();
  o.concurrency = 2;
  o.overall_timeout = Millis(200);
  auto start = Clock::now();
  auto run = run_plan(plan, o);
  CHECK(Clock::now() - start < Millis(1500));
  CHECK(run.deadline_reached);
  for (const auto& r : run.records) {
    CHECK(r.status == Status::error);
    CHECK(r.error->reason == "timeout");
  }
  CHECK(run.records[3].summary.find("not started before the overall deadline") != std::string::npos);
}

TEST_CASE("skipped checks are reported, not run") {
  Plan plan;
  auto p = planned(kThrower, "needs-var");
  p.skip_reason = "needs --set domain=<d>";
  plan.checks.push_back(p);
  auto run = run_plan(plan, quiet_options());
  CHECK(run.records[0].status == Status::skipped);
  CHECK(run.records[0].summary == "Skipped: needs --set domain=<d>");
}

TEST_CASE("params that fail validation at run time are bad_params, not a crash") {
  const auto* tcp = find_check_kind("tcp");
  REQUIRE(tcp);
  Plan plan;
  plan.checks.push_back(planned(*tcp, "bad", {{"host", "127.0.0.1"}, {"port", 0}}));
  auto run = run_plan(plan, quiet_options());
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == "bad_params");
}
