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
#include "probe/clock.hpp"
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

// What became of one planned check. The engine decides nothing about it:
// scoring turns it into a report entry (make_record).
struct CheckRun {
  CheckOutcome outcome;
  long long duration_ms = 0;
  bool skipped = false;  // the plan said not to run it
};

// Progress events, for a live display. Called on the engine's thread.
struct EngineObserver {
  virtual ~EngineObserver() = default;
  virtual void check_started(const PlannedCheck&) {}
  virtual void check_finished(const PlannedCheck&, const CheckRun&) {}
};

struct EngineRun {
  std::vector<CheckRun> runs;     // one per planned check, in plan order
  bool interrupted = false;       // SIGINT
  bool deadline_reached = false;  // the overall --timeout ended it
};

// File descriptors: the soft limit is raised to the hard one at the start of
// a scan, and --concurrency is lowered so that the checks running at once
// cannot run out of them (an EMFILE that still happens is an error with
// reason `local`, never a finding about the network).
struct DescriptorBudget {
  long limit = 1024;  // the soft RLIMIT_NOFILE in force
  long in_use = 0;    // open before the scan starts
};
inline constexpr long kDescriptorsPerCheck = 16;  // sockets a check holds at once, with margin
inline constexpr long kDescriptorsReserved = 16;  // c-ares, the responder link, the event loop
DescriptorBudget raise_descriptor_limit();
int concurrency_for_descriptors(const DescriptorBudget& budget);

// Runs on the calling thread; in a test under VirtualTime, in virtual time.
EngineRun run_plan(const Plan& plan, const EngineOptions& options, EngineObserver* observer = nullptr);

}  // namespace callready
