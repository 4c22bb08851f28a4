// The scoring model: findings -> status -> scores -> verdict -> exit code.
#include "probe/scoring.hpp"

#include <doctest/doctest.h>

using namespace callready;

namespace {
CheckRecord rec(std::string category, Status s, Severity rule = Severity::critical) {
  CheckRecord r;
  r.id = category + std::to_string(static_cast<int>(s));
  r.category = std::move(category);
  r.status = s;
  r.severity = rule;
  return r;
}
Finding finding(Severity s) { return Finding{s, "x", "m", "r", ""}; }
}  // namespace

TEST_CASE("status from findings") {
  CHECK(status_from_findings({}) == Status::pass);
  CHECK(status_from_findings({finding(Severity::info)}) == Status::pass);
  CHECK(status_from_findings({finding(Severity::info), finding(Severity::warning)}) == Status::warn);
  CHECK(status_from_findings({finding(Severity::warning), finding(Severity::critical)}) == Status::fail);
}

TEST_CASE("a warning rule caps what its findings cost") {
  CheckRecord r;
  r.severity = Severity::warning;
  r.findings = {finding(Severity::critical), finding(Severity::info)};
  cap_finding_severity(r);
  CHECK(r.findings[0].severity == Severity::warning);
  CHECK(r.findings[1].severity == Severity::info);
  r.severity = Severity::critical;
  r.findings = {finding(Severity::critical)};
  cap_finding_severity(r);
  CHECK(r.findings[0].severity == Severity::critical);
}

TEST_CASE("verdicts") {
  Report report;
  SUBCASE("all pass: ready, 100") {
    report.checks = {rec("dns", Status::pass), rec("tcp", Status::pass, Severity::warning)};
    score_report(report);
    CHECK(report.verdict == Verdict::ready);
    CHECK(report.score == 100);
  }
  SUBCASE("a critical rule failing: not ready") {
    report.checks = {rec("dns", Status::pass), rec("tcp", Status::fail)};
    score_report(report);
    CHECK(report.verdict == Verdict::not_ready);
    CHECK(report.score == 50);  // 3 of 6 weight
    REQUIRE(report.categories.size() == 2);
    CHECK(report.categories[0].name == "dns");
    CHECK(report.categories[0].verdict == Verdict::ready);
    CHECK(report.categories[1].verdict == Verdict::not_ready);
    CHECK(report.categories[1].score == 0);
  }
  SUBCASE("a warning rule failing: degraded") {
    report.checks = {rec("dns", Status::pass), rec("tcp", Status::fail, Severity::warning)};
    score_report(report);
    CHECK(report.verdict == Verdict::degraded);
    CHECK(report.score == 75);  // 3 of 4
  }
  SUBCASE("warn counts half and degrades") {
    report.checks = {rec("dns", Status::warn)};
    score_report(report);
    CHECK(report.verdict == Verdict::degraded);
    CHECK(report.score == 50);
  }
  SUBCASE("a critical rule erroring: unknown, unless something failed") {
    report.checks = {rec("dns", Status::pass), rec("tcp", Status::error)};
    score_report(report);
    CHECK(report.verdict == Verdict::unknown);
    report.checks.push_back(rec("x", Status::fail));
    score_report(report);
    CHECK(report.verdict == Verdict::not_ready);
  }
  SUBCASE("a warning rule erroring only degrades") {
    report.checks = {rec("dns", Status::pass), rec("tcp", Status::error, Severity::warning)};
    score_report(report);
    CHECK(report.verdict == Verdict::degraded);
  }
  SUBCASE("skipped checks do not count; nothing ran is unknown") {
    report.checks = {rec("dns", Status::skipped), rec("tcp", Status::pass)};
    score_report(report);
    CHECK(report.score == 100);
    CHECK(report.categories[0].verdict == Verdict::unknown);
    report.checks = {rec("dns", Status::skipped)};
    score_report(report);
    CHECK(report.verdict == Verdict::unknown);
    CHECK(report.score == 0);
  }
}

TEST_CASE("exit codes follow the Nagios convention") {
  CHECK(exit_code_for(Verdict::ready) == 0);
  CHECK(exit_code_for(Verdict::degraded) == 1);
  CHECK(exit_code_for(Verdict::not_ready) == 2);
  CHECK(exit_code_for(Verdict::unknown) == 3);
}

namespace {
PlannedCheck planned_with_fix(std::string fix) {
  PlannedCheck p;
  p.rule.id = "sip-alg";
  p.rule.kind = "sip_alg";
  p.rule.category = "signalling";
  p.rule.requirement = {"No SIP ALG", "seed § SIP"};
  p.rule.remediation = std::move(fix);
  return p;
}
CheckRun run_with(std::vector<Finding> findings) {
  CheckRun run;
  run.outcome.summary = "s";
  run.outcome.findings = std::move(findings);
  return run;
}
}  // namespace

TEST_CASE("the rule's fix replaces only the fix of findings that break its requirement") {
  Finding broken{Severity::warning, "sip_alg.detected", "Via rewritten", "check's own fix", ""};
  Finding could_not_tell{Severity::warning, "sip_alg.refused", "cannot tell whether a SIP ALG is on the path",
                         "Allow SIP (UDP and TCP 5060) from this site to the responder", ""};
  could_not_tell.inconclusive = true;
  Finding note{Severity::info, "sip_alg.note", "n", "info fix", ""};
  CHECK(breaks_requirement(broken));
  CHECK_FALSE(breaks_requirement(could_not_tell));
  CHECK_FALSE(breaks_requirement(note));
  auto r = make_record(planned_with_fix("Disable SIP ALG"), run_with({broken, could_not_tell, note}));
  REQUIRE(r.findings.size() == 3);
  CHECK(r.findings[0].remediation == "Disable SIP ALG");
  CHECK(r.findings[1].remediation == "Allow SIP (UDP and TCP 5060) from this site to the responder");
  CHECK(r.findings[2].remediation == "info fix");
  CHECK(r.findings[1].requirement == "No SIP ALG [seed § SIP]");  // still cites the rule
  CHECK(r.status == Status::warn);                                // could-not-tell still costs what it did
  // Without a rule fix every finding keeps its own.
  auto plain = make_record(planned_with_fix(""), run_with({broken}));
  CHECK(plain.findings[0].remediation == "check's own fix");
}

TEST_CASE("a finding that names a cause makes the check an error with reason dependency") {
  Finding unresolved{Severity::critical, "tcp.no_address", "Cannot connect to sbc.example.test:5061: not resolved",
                     "Check DNS", ""};
  unresolved.operation = Operation::resolve;
  unresolved.inconclusive = true;
  unresolved.cause = Cause{"dns.unreachable", "DNS does not work here"};
  auto run = run_with({unresolved});
  CHECK(status_of(run) == Status::error);
  auto r = make_record(planned_with_fix("Open TCP 5061"), run);
  CHECK(r.status == Status::error);
  REQUIRE(r.error);
  CHECK(r.error->reason == ErrorReason::dependency);
  CHECK(r.error->operation == Operation::resolve);
  CHECK(r.error->message == "Cannot connect to sbc.example.test:5061: not resolved");
  REQUIRE(r.error->cause);
  CHECK(r.error->cause->code == "dns.unreachable");
  CHECK(r.findings.empty());  // its own requirement was never tested
  CHECK(check_credit(r.status) == 0.0);
  // JSON: the error says which cause, by code.
  auto j = json(r);
  CHECK(j["error"]["reason"] == "dependency");
  CHECK(j["error"]["operation"] == "resolve");
  CHECK(j["error"]["cause"] == "dns.unreachable");
  CHECK(j.get<CheckRecord>().error->cause->code == "dns.unreachable");
  // An error the engine already set (a timeout) wins over the finding.
  run.outcome.error = CheckError{ErrorReason::timeout, Operation::none, "did not finish"};
  CHECK(make_record(planned_with_fix(""), run).error->reason == ErrorReason::timeout);
}
