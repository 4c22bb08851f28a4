#include "probe/exporter/probe_run.hpp"

#include <fmt/format.h>

#include <thread>

#include "probe/exporter/exporter_metrics.hpp"
#include "probe/scan.hpp"
#include "probe/scoring.hpp"

namespace callready::exporter {

namespace {

EngineOptions engine_options(const ProbeSettings& settings, Millis overall) {
  EngineOptions eo;
  eo.handle_sigint = false;  // the exporter owns its signals
  eo.dns_server = settings.dns_server;
  eo.settings.token = settings.token;
  eo.settings.responder = settings.responder;
  // The grace is part of the budget: the answer must be back before the scrape gives up.
  eo.grace = std::min(Millis(500), overall / 5);
  eo.overall_timeout = overall - eo.grace;
  return eo;
}

std::string background_key(const Plan& plan) {
  std::string key = plan.profile_name;
  for (const auto& [k, v] : plan.variables) key += fmt::format("\n{}={}", k, v);
  return key;
}

std::vector<CheckRecord> run_background(const Plan& plan, const ProbeSettings& settings) {
  Millis longest{0};
  for (const auto& c : plan.checks) longest = std::max(longest, c.timeout);
  auto eo = engine_options(settings, longest + Millis(5000));
  return make_records(plan, run_plan(plan, eo));
}

}  // namespace

std::variant<Plan, Refusal> plan_for(const Module& module, const ProbeQuery& query) {
  if (module.target_variable.empty())
    return Refusal{400, fmt::format("module \"{}\" has no `target` or `responder` variable for target to fill\n",
                                    module.profile.name)};
  if (query.sets.count(module.target_variable))
    return Refusal{400, fmt::format("set.{} conflicts with target (module \"{}\" fills {} from target)\n",
                                    module.target_variable, module.profile.name, module.target_variable)};
  PlanOptions po;
  po.sets = query.sets;
  po.sets[module.target_variable] = query.target;
  auto built = build_plan(module.profile, po);
  if (!built.plan) {
    std::string body;
    for (const auto& e : built.errors) body += e + "\n";
    return Refusal{400, body};
  }
  return std::move(*built.plan);
}

struct BackgroundResults::State {
  struct Entry {
    std::optional<Last> last;
    bool running = false;
    std::optional<Clock::time_point> started;
  };
  mutable std::mutex mutex;
  std::map<std::string, Entry> entries;
  std::size_t max_entries, max_running, running = 0, completed = 0;
};

BackgroundResults::BackgroundResults(std::size_t max_entries, std::size_t max_running)
    : state_(std::make_shared<State>()) {
  state_->max_entries = max_entries;
  state_->max_running = max_running;
}

std::size_t BackgroundResults::running() const {
  std::lock_guard lock(state_->mutex);
  return state_->running;
}

std::size_t BackgroundResults::completed_runs() const {
  std::lock_guard lock(state_->mutex);
  return state_->completed;
}

std::optional<BackgroundResults::Last> BackgroundResults::last_and_schedule(
    const std::string& key, std::chrono::seconds interval, std::function<std::vector<CheckRecord>()> run) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->entries.find(key);
  if (it == state_->entries.end()) {
    if (state_->entries.size() >= state_->max_entries) return std::nullopt;  // bounded: no new targets
    it = state_->entries.emplace(key, State::Entry{}).first;
  }
  auto& entry = it->second;
  bool due = !entry.started || Clock::now() - *entry.started >= interval;
  if (!entry.running && due && state_->running < state_->max_running) {
    entry.running = true;
    entry.started = Clock::now();
    ++state_->running;
    std::thread([state = state_, key, run = std::move(run)] {
      auto records = run();
      std::lock_guard done(state->mutex);
      auto& e = state->entries[key];
      e.last = Last{std::move(records), unix_now()};
      e.running = false;
      --state->running;
      ++state->completed;
    }).detach();
  }
  return entry.last;
}

ProbeAnswer run_probe(const Module& module, const Plan& plan, Millis budget, const ProbeSettings& settings,
                      BackgroundResults& background) {
  Plan inline_plan = plan, background_plan = plan;
  background_plan.checks.clear();
  for (auto& c : inline_plan.checks)
    if (module.background.count(c.rule.id) && !c.skip_reason) {
      background_plan.checks.push_back(c);
      c.skip_reason = fmt::format("runs in the background every {} s; no result yet", module.interval.count());
    }
  auto started = std::chrono::system_clock::now();
  auto run = run_plan(inline_plan, engine_options(settings, budget));
  auto finished = std::chrono::system_clock::now();
  // Only a background result carries its time: an inline one was measured
  // by this scrape, whose timestamp Prometheus already keeps (one series
  // per check less in every answer).
  ProbeAnswer answer{assemble_report(inline_plan, std::move(run), started, finished), {}};
  if (background_plan.checks.empty()) return answer;

  auto last =
      background.last_and_schedule(background_key(background_plan), module.interval,
                                   [background_plan, settings] { return run_background(background_plan, settings); });
  for (auto& c : answer.report.checks) {
    if (!module.background.count(c.id) || !last) continue;
    for (const auto& r : last->records)
      if (r.id == c.id && r.status != Status::skipped) {
        c = r;
        answer.last_run[c.id] = last->measured_at;
      }
  }
  score_report(answer.report);
  return answer;
}

}  // namespace callready::exporter
