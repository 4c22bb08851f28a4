#pragma once
// Runs a Plan: every check a coroutine on one io_context, at most
// `concurrency` at once, each under its own timeout and all under the overall
// deadline. The engine owns deadlines and cancellation: at a check's deadline
// it emits a terminal cancellation; a check that ignores it is abandoned after
// a short grace and reported as error/timeout, so nothing a check does can
// hang the scan. SIGINT ends the scan early the same way (error/interrupted).
#include <functional>
#include <optional>
#include <vector>

#include "probe/check.hpp"
#include "probe/net/resolver.hpp"
#include "probe/profile.hpp"

namespace callready {

struct EngineOptions {
  int concurrency = 32;
  Millis overall_timeout{120000};
  Millis grace{1000};  // how long a cancelled check may take to wind down
  ScanSettings settings;
  std::optional<net::DnsServer> dns_server;
  bool handle_sigint = true;
  std::function<void(const std::string&)> log;  // debug log, may be empty
};

// Progress events, for a live display. Called on the engine's thread.
struct EngineObserver {
  virtual ~EngineObserver() = default;
  virtual void check_started(const PlannedCheck&) {}
  virtual void check_finished(const PlannedCheck&, const CheckRecord&) {}
};

struct EngineRun {
  std::vector<CheckRecord> records;  // one per planned check, in plan order
  bool interrupted = false;          // SIGINT
  bool deadline_reached = false;     // the overall --timeout ended it
};

EngineRun run_plan(const Plan& plan, const EngineOptions& options, EngineObserver* observer = nullptr);

// Turns a check's outcome into its report entry: status from findings, the
// rule's requirement and remediation attached, severity capped by the rule.
CheckRecord make_record(const PlannedCheck& planned, CheckOutcome outcome, long long duration_ms);

}  // namespace callready
