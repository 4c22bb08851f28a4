#include "probe/scoring.hpp"

#include <cmath>

namespace callready {

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
    case Status::pass: return 1.0;
    case Status::warn: return 0.5;
    default: return 0.0;
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
      case Status::fail: (critical ? critical_fail : degraded) = true; break;
      case Status::error: (critical ? critical_error : degraded) = true; break;
      case Status::warn: degraded = true; break;
      default: break;
    }
  }
  Score s;
  if (total == 0) return s;  // nothing ran: unknown, score 0
  s.score = static_cast<int>(std::lround(100.0 * earned / total));
  if (critical_fail) s.verdict = Verdict::not_ready;
  else if (critical_error) s.verdict = Verdict::unknown;
  else if (degraded) s.verdict = Verdict::degraded;
  else s.verdict = Verdict::ready;
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
    case Verdict::ready: return 0;
    case Verdict::degraded: return 1;
    case Verdict::not_ready: return 2;
    case Verdict::unknown: return 3;
  }
  return 3;
}

}  // namespace callready
