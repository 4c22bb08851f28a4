#pragma once
// One cause, one headline: the checks a single failure explains, grouped so
// the report names the cause once (issue 20, "The first run"). Pure, over the
// records scoring built; it never looks at kinds.
#include <vector>

#include "probe/model.hpp"

namespace callready {

// The root causes of a report's checks, the one that explains most first:
//   - checks stopped by the same failed step (error `dependency` naming the
//     same Cause, e.g. "dns.unreachable": DNS does not work here), with the
//     checks whose own test found that cause (a DNS lookup that failed so);
//   - checks that could not run for the same reason with the same words
//     (e.g. the responder is not running: `setup`, `control`);
//   - a host that every check aimed at it (two or more) failed to reach
//     (`host.unreachable`).
// A single check's own error is no root cause: it is reported with the check.
std::vector<RootCause> find_root_causes(const std::vector<CheckRecord>& checks);

// The host part of a check's target ("h:443", "[2001:db8::1]:5061", "h ports 5004-5005").
std::string target_host(const std::string& target);

}  // namespace callready
