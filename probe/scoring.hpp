#pragma once
// The scoring model, in one place and pure (README "Scoring" documents it):
//   findings -> check status -> category scores -> overall score and verdict -> exit code.
#include <vector>

#include "probe/engine.hpp"
#include "probe/model.hpp"
#include "probe/profile.hpp"

namespace callready {

// A check's report entry from what the engine returned: status from its
// findings (or error/skipped), the rule's requirement attached, the rule's
// remediation on the findings that break it, finding severity capped by the
// rule. A finding that names a Cause (a step the check depends on failed
// first) makes the check an error with reason `dependency`.
CheckRecord make_record(const PlannedCheck& planned, CheckRun run);
// The status make_record gives, without building the record (progress display).
Status status_of(const CheckRun& run);
std::vector<CheckRecord> make_records(const Plan& plan, EngineRun run);

// Whether a finding means the rule's requirement is broken, so the rule's
// remediation replaces the check's own fix. Not for an inconclusive finding
// (the check could not tell: e.g. the far end refused, DNS failed first): its
// own fix says how to make the test possible, the rule's would contradict it.
bool breaks_requirement(const Finding& finding);

// Whether a finding says a step the check depends on failed first: it names a
// Cause other than itself. A finding that is the cause (a DNS check that found
// the DNS server unreachable) keeps its check's status; the report still lists
// the check under that cause.
bool depends_on_cause(const Finding& finding);

// The error of a check stopped by a step it depends on: the first finding
// that depends on a cause, as reason `dependency` with that finding's operation.
std::optional<CheckError> dependency_error(const std::vector<Finding>& findings);

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
