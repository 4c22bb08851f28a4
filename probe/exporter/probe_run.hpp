#pragma once
// One /probe: the module's plan with the request's target and set.<var>
// values, run under the scrape's deadline (a blocking call: the server runs
// it on a worker thread). Long checks are not run inside the scrape: they run
// in the background at the module's interval, started by the scrapes that ask
// for them, and the probe serves their last result with its time.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "probe/engine.hpp"
#include "probe/exporter/modules.hpp"
#include "probe/exporter/request.hpp"
#include "probe/model.hpp"

namespace callready::exporter {

struct ProbeSettings {
  std::optional<net::DnsServer> dns_server;
  std::string token;
  std::optional<std::string> responder;  // HOST:PORT of the responder's control port, when not the default
};

// Plan for a query: `target` fills the module's target variable, set.<var> the others.
std::variant<Plan, Refusal> plan_for(const Module& module, const ProbeQuery& query);

// The last background results per (module, target, sets), bounded in entries and in runs at once.
class BackgroundResults {
 public:
  struct Last {
    std::vector<CheckRecord> records;
    double measured_at = 0;  // Unix time
  };
  BackgroundResults(std::size_t max_entries, std::size_t max_running);
  // The last result under `key` (if any); starts `run` on its own thread
  // when none is running and the last one started `interval` ago or more.
  std::optional<Last> last_and_schedule(const std::string& key, std::chrono::seconds interval,
                                        std::function<std::vector<CheckRecord>()> run);
  std::size_t running() const;
  std::size_t completed_runs() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct ProbeAnswer {
  Report report;
  std::map<std::string, double> last_run;  // background check id -> Unix time its served result was measured
};

// Runs the inline checks now (overall deadline `budget`) and merges the background ones' last results.
ProbeAnswer run_probe(const Module& module, const Plan& plan, Millis budget, const ProbeSettings& settings,
                      BackgroundResults& background);

}  // namespace callready::exporter
