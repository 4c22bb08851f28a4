#include "probe/scoring.hpp"

#include <fmt/format.h>

#include <cmath>

namespace callready {

CheckRecord make_record(const PlannedCheck& planned, CheckRun run) {
  CheckRecord r;
  const auto& rule = planned.rule;
  auto& outcome = run.outcome;
  r.status = status_of(run);  // before the findings move into the record
  r.id = rule.id;
  r.kind = rule.kind;
  r.category = rule.category;
  r.target = planned.target;
  r.severity = rule.severity;
  r.requirement = rule.requirement;
  r.duration_ms = run.duration_ms;
  r.summary = std::move(outcome.summary);
  r.details = std::move(outcome.details);
  r.findings = std::move(outcome.findings);
  std::string cites;
  if (!rule.requirement.text.empty())
    cites = rule.requirement.source.empty() ? rule.requirement.text
                                            : fmt::format("{} [{}]", rule.requirement.text, rule.requirement.source);
  for (auto& f : r.findings) {
    if (f.requirement.empty()) f.requirement = cites;
    if (breaks_requirement(f) && !rule.remediation.empty()) f.remediation = rule.remediation;
  }
  if (!run.skipped && !outcome.error) outcome.error = dependency_error(r.findings);
  if (!run.skipped && outcome.error) {
    r.error = std::move(outcome.error);
    if (r.error->cause) r.findings.clear();  // nothing about this check's own requirement was measured
    if (r.summary.empty()) r.summary = r.error->message;
  }
  cap_finding_severity(r);
  return r;
}

bool breaks_requirement(const Finding& finding) { return finding.severity != Severity::info && !finding.inconclusive; }

bool depends_on_cause(const Finding& finding) { return finding.cause && finding.cause->code != finding.code; }

std::optional<CheckError> dependency_error(const std::vector<Finding>& findings) {
  for (const auto& f : findings)
    if (depends_on_cause(f)) return CheckError{ErrorReason::dependency, f.operation, f.message, f.cause};
  return std::nullopt;
}

Status status_of(const CheckRun& run) {
  if (run.skipped) return Status::skipped;
  if (run.outcome.error || dependency_error(run.outcome.findings)) return Status::error;
  return status_from_findings(run.outcome.findings);
}

std::vector<CheckRecord> make_records(const Plan& plan, EngineRun run) {
  std::vector<CheckRecord> records;
  records.reserve(run.runs.size());
  for (std::size_t i = 0; i < run.runs.size() && i < plan.checks.size(); ++i)
    records.push_back(make_record(plan.checks[i], std::move(run.runs[i])));
  return records;
}

Status status_from_findings(const std::vector<Finding>& findings) {
  Status s = Status::pass;
  for (const auto& f : findings) {
    if (f.severity == Severity::critical) return Status::fail;
    if (f.severity == Severity::warning) s = Status::warn;
  }
  return s;
}

void cap_finding_severity(CheckRecord& record) {
  if (record.severity != Severity::warning) return;
  for (auto& f : record.findings)
    if (f.severity == Severity::critical) f.severity = Severity::warning;
}

int check_weight(const CheckRecord& record) {
  if (record.status == Status::skipped) return 0;
  return record.severity == Severity::critical ? 3 : 1;
}

double check_credit(Status status) {
  switch (status) {
    case Status::pass:
      return 1.0;
    case Status::warn:
      return 0.5;
    default:
      return 0.0;
  }
}

Score score_checks(const std::vector<const CheckRecord*>& checks) {
  double earned = 0;
  int total = 0;
  bool critical_fail = false, critical_error = false, degraded = false;
  for (const auto* c : checks) {
    int w = check_weight(*c);
    if (w == 0) continue;
    total += w;
    earned += w * check_credit(c->status);
    bool critical = c->severity == Severity::critical;
    switch (c->status) {
      case Status::fail:
        (critical ? critical_fail : degraded) = true;
        break;
      case Status::error:
        (critical ? critical_error : degraded) = true;
        break;
      case Status::warn:
        degraded = true;
        break;
      default:
        break;
    }
  }
  Score s;
  if (total == 0) return s;  // nothing ran: unknown, score 0
  s.score = static_cast<int>(std::lround(100.0 * earned / total));
  if (critical_fail)
    s.verdict = Verdict::not_ready;
  else if (critical_error)
    s.verdict = Verdict::unknown;
  else if (degraded)
    s.verdict = Verdict::degraded;
  else
    s.verdict = Verdict::ready;
  return s;
}

void score_report(Report& report) {
  report.categories.clear();
  std::vector<std::string> order;
  for (const auto& c : report.checks)
    if (std::find(order.begin(), order.end(), c.category) == order.end()) order.push_back(c.category);
  for (const auto& name : order) {
    std::vector<const CheckRecord*> in;
    for (const auto& c : report.checks)
      if (c.category == name) in.push_back(&c);
    auto s = score_checks(in);
    report.categories.push_back({name, s.score, s.verdict});
  }
  std::vector<const CheckRecord*> all;
  for (const auto& c : report.checks) all.push_back(&c);
  auto s = score_checks(all);
  report.score = s.score;
  report.verdict = s.verdict;
}

int exit_code_for(Verdict verdict) {
  switch (verdict) {
    case Verdict::ready:
      return 0;
    case Verdict::degraded:
      return 1;
    case Verdict::not_ready:
      return 2;
    case Verdict::unknown:
      return 3;
  }
  return 3;
}

}  // namespace callready
