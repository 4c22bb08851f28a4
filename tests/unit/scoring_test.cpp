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
