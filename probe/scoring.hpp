#pragma once
// The scoring model, in one place and pure (README "Scoring" documents it):
//   findings -> check status -> category scores -> overall score and verdict -> exit code.
#include <vector>

#include "probe/engine.hpp"
#include "probe/model.hpp"
#include "probe/profile.hpp"

namespace callready {

// A check's report entry from what the engine returned: status from its
// findings (or error/skipped), the rule's requirement and remediation
// attached, finding severity capped by the rule.
CheckRecord make_record(const PlannedCheck& planned, CheckRun run);
// The status make_record gives, without building the record (progress display).
Status status_of(const CheckRun& run);
std::vector<CheckRecord> make_records(const Plan& plan, EngineRun run);

// pass / warn / fail from the findings a check reported (error and skipped are
// decided by the engine and kept). A critical finding means the requirement is
// broken (fail); a warning finding means it holds with reservations (warn).
Status status_from_findings(const std::vector<Finding>& findings);

// A rule's severity caps what its findings cost: on a `warning` rule a broken
// requirement is reported as a warning finding.
void cap_finding_severity(CheckRecord& record);

// Weight of a check in scores: critical rules 3, warning rules 1, skipped 0.
int check_weight(const CheckRecord& record);
// Credit of a check: pass 1, warn 0.5, fail 0, error 0.
double check_credit(Status status);

struct Score {
  int score = 0;  // 0-100
  Verdict verdict = Verdict::unknown;
};

// Verdict of a set of checks:
//   not_ready  a critical rule failed
//   unknown    nothing ran, or a critical rule errored (we cannot say it holds)
//   degraded   any warn, or a warning rule that failed or errored
//   ready      otherwise
Score score_checks(const std::vector<const CheckRecord*>& checks);

// Fills report.categories (in first-seen order), report.score and report.verdict.
void score_report(Report& report);

// 0 ready, 1 degraded, 2 not ready, 3 unknown (Nagios convention, CONTRACT.md).
int exit_code_for(Verdict verdict);

}  // namespace callready
