// The engine owns deadlines: timeouts, abandoned checks, exceptions,
// concurrency. Every case runs in virtual time (probe/clock.hpp): the clock
// jumps to the next due timer, so timings are exact and cost nothing.
#include "probe/engine.hpp"

#include <doctest/doctest.h>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/clock.hpp"
#include "probe/net/path_rtt.hpp"
#include "probe/registry.hpp"
#include "probe/scan.hpp"
#include "probe/scoring.hpp"

using namespace callready;
namespace asio = boost::asio;

namespace {

int running_now = 0, running_max = 0;

asio::awaitable<CheckOutcome> sleepy(const json& params, CheckContext&) {
  ++running_now;
  running_max = std::max(running_max, running_now);
  Timer t(co_await asio::this_coro::executor);
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
  Timer t(co_await asio::this_coro::executor);
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

// Records an RTT to 192.0.2.1 in the scan's store, then says whether one was
// already there: the summary is "known" or "unknown".
asio::awaitable<CheckOutcome> rtt_probe(const json&, CheckContext& ctx) {
  auto& paths = net::path_rtt(ctx.executor);
  auto address = asio::ip::make_address("192.0.2.1");
  CheckOutcome o;
  o.summary = paths.rtt(address) ? "known" : "unknown";
  paths.record(address, Millis(3));
  co_return o;
}

const CheckKind kSleepy = kind("sleepy", sleepy);
const CheckKind kStubborn = kind("stubborn", stubborn);
const CheckKind kThrower = kind("thrower", thrower);
const CheckKind kRttProbe = kind("rtt_probe", rtt_probe);

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

// Runs the plan in virtual time; the records as scoring builds them, and
// how much virtual time the scan took.
struct VirtualScan {
  std::vector<CheckRecord> records;
  bool deadline_reached = false;
  Clock::duration took{};
};

VirtualScan scan(const Plan& plan, const EngineOptions& options) {
  VirtualTime vt;
  auto run = run_plan(plan, options);
  VirtualScan out;
  out.took = vt.elapsed();
  out.deadline_reached = run.deadline_reached;
  out.records = make_records(plan, std::move(run));
  return out;
}

}  // namespace

TEST_CASE("checks run concurrently, bounded by concurrency") {
  Plan plan;
  for (int i = 0; i < 20; ++i) plan.checks.push_back(planned(kSleepy, "s" + std::to_string(i), {{"sleep_ms", 50}}));
  auto o = quiet_options();
  o.concurrency = 5;
  running_now = running_max = 0;
  auto run = scan(plan, o);
  CHECK(running_max == 5);
  CHECK(run.took == Millis(200));  // 4 waves of 50 ms
  for (const auto& r : run.records) CHECK(r.status == Status::pass);
}

TEST_CASE("a finding makes a failure and the rule's requirement is attached") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "f", {{"fail", true}}));
  auto run = scan(plan, quiet_options());
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0].status == Status::fail);
  CHECK(run.records[0].findings[0].requirement == "req [src]");
}

TEST_CASE("a rule's remediation replaces the check's, except where the check could not tell") {
  PlannedCheck p = planned(kSleepy, "r");
  p.rule.remediation = "open TCP 443 to the cloud";
  CheckOutcome o;
  o.findings = {{Severity::critical, "tcp.refused", "refused", "generic", "", Operation::connect},
                {Severity::critical, "tcp.no_address", "no name", "fix DNS", "", Operation::resolve},
                {Severity::info, "tcp.note", "fyi", "", ""}};
  o.findings[1].inconclusive = true;  // the resolve step failed: nothing was learnt about TCP 443
  auto r = make_record(p, CheckRun{o, 1});
  CHECK(r.findings[0].remediation == "open TCP 443 to the cloud");
  CHECK(r.findings[1].remediation == "fix DNS");
  CHECK(r.findings[2].remediation == "");
}

TEST_CASE("a check over its own timeout is cancelled and reported as error/timeout") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "slow", {{"sleep_ms", 5000}}, Millis(100)));
  plan.checks.push_back(planned(kSleepy, "fast", {{"sleep_ms", 10}}));
  auto run = scan(plan, quiet_options());
  CHECK(run.took == Millis(100));
  CHECK(run.records[0].status == Status::error);
  REQUIRE(run.records[0].error);
  CHECK(run.records[0].error->reason == ErrorReason::timeout);
  CHECK(run.records[0].duration_ms == 100);
  CHECK(run.records[0].summary.find("did not finish within 100 ms") != std::string::npos);
  CHECK(run.records[1].status == Status::pass);
  CHECK_FALSE(run.deadline_reached);
}

TEST_CASE("a check that ignores cancellation is abandoned after the grace period") {
  Plan plan;
  plan.checks.push_back(planned(kStubborn, "stuck", json::object(), Millis(100)));
  auto run = scan(plan, quiet_options());
  CHECK(run.took == Millis(200));  // its 100 ms timeout, then the 100 ms grace
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == ErrorReason::timeout);
}

TEST_CASE("an exception is our breakage: error/internal, never a crash") {
  Plan plan;
  plan.checks.push_back(planned(kThrower, "t"));
  auto run = scan(plan, quiet_options());
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == ErrorReason::internal);
  CHECK(run.records[0].error->message.find("boom") != std::string::npos);
}

TEST_CASE("the overall deadline ends the scan: running and unstarted checks are error/timeout") {
  Plan plan;
  for (int i = 0; i < 4; ++i) plan.checks.push_back(planned(kSleepy, "s" + std::to_string(i), {{"sleep_ms", 3000}}));
  auto o = quiet_options();
  o.concurrency = 2;
  o.overall_timeout = Millis(200);
  auto run = scan(plan, o);
  CHECK(run.took == Millis(200));
  CHECK(run.deadline_reached);
  for (const auto& r : run.records) {
    CHECK(r.status == Status::error);
    CHECK(r.error->reason == ErrorReason::timeout);
  }
  CHECK(run.records[3].summary.find("not started before the overall deadline") != std::string::npos);
}

TEST_CASE("skipped checks are reported, not run") {
  Plan plan;
  auto p = planned(kThrower, "needs-var");
  p.skip_reason = "needs --set domain=<d>";
  plan.checks.push_back(p);
  auto run = scan(plan, quiet_options());
  CHECK(run.records[0].status == Status::skipped);
  CHECK(run.records[0].summary == "Skipped: needs --set domain=<d>");
}

TEST_CASE("params that fail validation at run time are bad_params, not a crash") {
  const auto* tcp = find_check_kind("tcp");
  REQUIRE(tcp);
  Plan plan;
  plan.checks.push_back(planned(*tcp, "bad", {{"host", "127.0.0.1"}, {"port", 0}}));
  auto run = scan(plan, quiet_options());
  CHECK(run.records[0].status == Status::error);
  CHECK(run.records[0].error->reason == ErrorReason::bad_params);
}

TEST_CASE("a check's own timeout is measured from its start, not the scan's") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "first", {{"sleep_ms", 300}}));
  plan.checks.push_back(planned(kSleepy, "second", {{"sleep_ms", 5000}}, Millis(1000)));
  auto o = quiet_options();
  o.concurrency = 1;
  auto run = scan(plan, o);
  CHECK(run.took == Millis(1300));
  CHECK(run.records[0].status == Status::pass);
  CHECK(run.records[1].error->reason == ErrorReason::timeout);
  CHECK(run.records[1].summary.find("did not finish within 1000 ms") != std::string::npos);
}

TEST_CASE("the overall deadline caps a check's timeout: the message names what it was allowed") {
  Plan plan;
  plan.checks.push_back(planned(kSleepy, "long", {{"sleep_ms", 9000}}, Millis(5000)));
  auto o = quiet_options();
  o.overall_timeout = Millis(750);
  auto run = scan(plan, o);
  CHECK(run.took == Millis(750));
  CHECK(run.records[0].error->reason == ErrorReason::timeout);
  CHECK(run.records[0].summary.find("did not finish within 750 ms") != std::string::npos);
}

// A kind in the measure/judge shape: the judge alone decides the findings,
// and the details come from the typed result.
namespace {
struct EchoParams {
  long long value = 0;
  static EchoParams parse(ParamReader& r) { return {r.integer_or("value", 0, 100, 7)}; }
  std::string target() const { return "v" + std::to_string(value); }
};
struct EchoResult {
  long long seen = 0;
  std::optional<std::string> public_address() const { return "192.0.2.7"; }
};
void to_json(json& j, const EchoResult& r) { j = {{"seen", r.seen}}; }

asio::awaitable<Measured<EchoResult>> measure_echo(EchoParams p, CheckContext&) {
  Measured<EchoResult> m;
  m.result.seen = p.value;
  if (p.value == 99) m.error = CheckError{ErrorReason::setup, Operation::control, "no responder"};
  co_return m;
}
Judgement judge_echo(const EchoResult& r, const EchoParams&) {
  Judgement j;
  j.summary = "saw " + std::to_string(r.seen);
  if (r.seen > 50) j.findings.push_back({Severity::critical, "echo.big", "too big", "", "", Operation::receive});
  return j;
}
const CheckKind kEcho = make_check_kind<EchoParams, EchoResult>("echo", Millis(1000), {&measure_echo, &judge_echo});
}  // namespace

TEST_CASE("measure then judge: details from the result, findings from the judge, errors kept apart") {
  Plan plan;
  plan.checks.push_back(planned(kEcho, "small", {{"value", 3}}));
  plan.checks.push_back(planned(kEcho, "big", {{"value", 60}}));
  plan.checks.push_back(planned(kEcho, "setup", {{"value", 99}}));
  plan.checks.push_back(planned(kEcho, "bad", {{"value", "x"}}));
  auto run = scan(plan, quiet_options());
  CHECK(run.records[0].status == Status::pass);
  CHECK(run.records[0].details == json{{"seen", 3}});
  CHECK(run.records[0].summary == "saw 3");
  CHECK(run.records[1].status == Status::fail);
  CHECK(run.records[1].findings.at(0).operation == Operation::receive);
  CHECK(run.records[2].status == Status::error);
  CHECK(run.records[2].error->reason == ErrorReason::setup);
  CHECK(run.records[2].error->operation == Operation::control);
  CHECK(run.records[2].details == json{{"seen", 99}});
  CHECK(run.records[3].error->reason == ErrorReason::bad_params);
}

TEST_CASE("the report's public address comes from the outcome that learned it, whatever its kind") {
  Plan plan;
  plan.checks.push_back(planned(kEcho, "learns", {{"value", 1}}));
  VirtualTime vt;
  auto now = std::chrono::system_clock::now();
  auto report = assemble_report(plan, run_plan(plan, quiet_options()), now, now);
  CHECK(report.site.public_address == "192.0.2.7");
}

TEST_CASE("the checks of one scan share its RTT store, and a scan starts with none") {
  Plan plan;
  plan.checks.push_back(planned(kRttProbe, "first"));
  plan.checks.push_back(planned(kRttProbe, "second"));
  auto o = quiet_options();
  o.concurrency = 1;
  for (int scan_number = 0; scan_number < 2; ++scan_number) {
    auto run = scan(plan, o);
    REQUIRE(run.records.size() == 2);
    CHECK(run.records[0].summary == "unknown");  // the earlier scan's RTT is not this scan's
    CHECK(run.records[1].summary == "known");
  }
}
