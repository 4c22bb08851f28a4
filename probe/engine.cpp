#include "probe/engine.hpp"

#include <fmt/format.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "probe/scoring.hpp"

namespace asio = boost::asio;

namespace callready {

CheckRecord make_record(const PlannedCheck& planned, CheckOutcome outcome, long long duration_ms) {
  CheckRecord r;
  const auto& rule = planned.rule;
  r.id = rule.id;
  r.kind = rule.kind;
  r.category = rule.category;
  r.target = planned.target;
  r.severity = rule.severity;
  r.requirement = rule.requirement;
  r.duration_ms = duration_ms;
  r.summary = std::move(outcome.summary);
  r.details = std::move(outcome.details);
  r.findings = std::move(outcome.findings);
  std::string cites;
  if (!rule.requirement.text.empty())
    cites = rule.requirement.source.empty() ? rule.requirement.text
                                            : fmt::format("{} [{}]", rule.requirement.text, rule.requirement.source);
  for (auto& f : r.findings) {
    if (f.requirement.empty()) f.requirement = cites;
    // The rule knows the site's context better than the check, except when the
    // target's name did not even resolve: then the fix is DNS, as the check says.
    bool unresolved = f.code.ends_with(".no_address");
    if (!rule.remediation.empty() && f.severity != Severity::info && !unresolved) f.remediation = rule.remediation;
  }
  if (outcome.error) {
    r.status = Status::error;
    r.error = std::move(outcome.error);
    if (r.summary.empty()) r.summary = r.error->message;
  } else {
    r.status = status_from_findings(r.findings);
  }
  cap_finding_severity(r);
  return r;
}

namespace {

struct Slot {
  std::size_t index;
  asio::cancellation_signal cancel;
  asio::steady_timer timer;
  Clock::time_point start = Clock::now();
  bool done = false;
  std::optional<std::string> cancel_reason;  // timeout | interrupted
  Millis allowed{0};                         // its timeout, or less when the overall deadline is nearer
  CheckContext ctx;
  Slot(std::size_t i, asio::io_context& io, net::Resolver& resolver, const ScanSettings& settings,
       Clock::time_point deadline, std::function<void(const std::string&)> log)
      : index(i), timer(io), ctx{io.get_executor(), resolver, deadline, settings, std::move(log)} {}
};

class Engine {
 public:
  Engine(const Plan& plan, const EngineOptions& options, EngineObserver* observer)
      : plan_(plan),
        options_(options),
        observer_(observer),
        resolver_(io_.get_executor(), options.dns_server),
        overall_timer_(io_),
        signals_(io_) {
    run_.records.resize(plan.checks.size());
  }

  EngineRun run() {
    deadline_ = Clock::now() + options_.overall_timeout;
    if (plan_.checks.empty()) return std::move(run_);
    overall_timer_.expires_at(deadline_);
    overall_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) stop_all("timeout");
    });
    if (options_.handle_sigint) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](boost::system::error_code ec, int) {
        if (!ec) stop_all("interrupted");
      });
    }
    launch_more();
    io_.run();
    return std::move(run_);
  }

 private:
  void log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

  void launch_more() {
    while (!stopping_ && running_ < static_cast<std::size_t>(std::max(1, options_.concurrency)) &&
           next_ < plan_.checks.size())
      launch(next_++);
    if (finished_ == plan_.checks.size()) {
      // Abandoned checks may still hold work; the scan is over regardless.
      overall_timer_.cancel();
      signals_.cancel();
      io_.stop();
    }
  }

  void launch(std::size_t i) {
    const auto& pc = plan_.checks[i];
    if (pc.skip_reason) {
      CheckOutcome o;
      o.summary = "Skipped: " + *pc.skip_reason;
      auto rec = make_record(pc, std::move(o), 0);
      rec.status = Status::skipped;
      complete(i, std::move(rec));
      return;
    }
    // The check budgets its phases against its own timeout only: when the
    // overall deadline cuts it short, that is the engine's error/timeout
    // (CONTRACT.md), not a network finding such as "no answer within N ms".
    auto own_deadline = Clock::now() + pc.timeout;
    auto check_deadline = std::min(own_deadline, deadline_);
    auto logger = options_.log ? std::function<void(const std::string&)>(
                                     [this, id = pc.rule.id](const std::string& l) { log(id + ": " + l); })
                               : std::function<void(const std::string&)>([](const std::string&) {});
    auto slot = std::make_shared<Slot>(i, io_, resolver_, options_.settings, own_deadline, logger);
    slot->allowed = std::chrono::duration_cast<Millis>(check_deadline - slot->start);
    if (own_deadline <= deadline_) slot->allowed = pc.timeout;
    slots_.push_back(slot);
    ++running_;
    if (observer_) observer_->check_started(pc);
    slot->timer.expires_at(check_deadline);
    slot->timer.async_wait([this, slot](boost::system::error_code ec) {
      if (!ec && !slot->done) cancel(slot, "timeout");
    });
    asio::co_spawn(io_, pc.kind->run(pc.params, slot->ctx),
                   asio::bind_cancellation_slot(slot->cancel.slot(),
                                                [this, slot](std::exception_ptr e, CheckOutcome outcome) {
                                                  finish(slot, e, std::move(outcome));
                                                }));
  }

  void cancel(const std::shared_ptr<Slot>& slot, const std::string& reason) {
    if (slot->done || slot->cancel_reason) return;
    slot->cancel_reason = reason;
    log(fmt::format("{}: cancelling ({})", plan_.checks[slot->index].rule.id, reason));
    slot->cancel.emit(asio::cancellation_type::terminal);
    // A check that ignores cancellation is abandoned after the grace period.
    slot->timer.expires_after(options_.grace);
    slot->timer.async_wait([this, slot](boost::system::error_code ec) {
      if (!ec && !slot->done) finish(slot, nullptr, CheckOutcome{}, /*abandoned=*/true);
    });
  }

  void finish(const std::shared_ptr<Slot>& slot, std::exception_ptr e, CheckOutcome outcome, bool abandoned = false) {
    if (slot->done) return;
    slot->done = true;
    slot->timer.cancel();
    const auto& pc = plan_.checks[slot->index];
    auto elapsed = std::chrono::duration_cast<Millis>(Clock::now() - slot->start).count();
    if (slot->cancel_reason && (e || abandoned || outcome.error)) {
      const auto& reason = *slot->cancel_reason;
      outcome = CheckOutcome::failed(
          reason, reason == "timeout"
                      ? fmt::format("did not finish within {} ms", slot->allowed.count())
                      : std::string("the scan was interrupted before this check finished"));
    } else if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        outcome = CheckOutcome::failed("internal", fmt::format("the check broke: {}", ex.what()));
      } catch (...) {
        outcome = CheckOutcome::failed("internal", "the check broke with an unknown exception");
      }
    }
    --running_;
    complete(slot->index, make_record(pc, std::move(outcome), elapsed));
    launch_more();
  }

  void complete(std::size_t i, CheckRecord rec) {
    run_.records[i] = std::move(rec);
    ++finished_;
    if (observer_) observer_->check_finished(plan_.checks[i], run_.records[i]);
  }

  void stop_all(const std::string& reason) {
    if (stopping_) return;
    stopping_ = true;
    (reason == "timeout" ? run_.deadline_reached : run_.interrupted) = true;
    log("stopping: " + reason);
    // Checks that never started.
    while (next_ < plan_.checks.size()) {
      std::size_t i = next_++;
      const auto& pc = plan_.checks[i];
      CheckOutcome o = CheckOutcome::failed(
          reason, reason == "timeout" ? "not started before the overall deadline (--timeout)"
                                      : "not started: the scan was interrupted");
      complete(i, make_record(pc, std::move(o), 0));
    }
    for (auto& s : slots_)
      if (!s->done) cancel(s, reason);
    if (finished_ == plan_.checks.size()) launch_more();
  }

  const Plan& plan_;
  const EngineOptions& options_;
  EngineObserver* observer_;
  asio::io_context io_;
  net::Resolver resolver_;
  asio::steady_timer overall_timer_;
  asio::signal_set signals_;
  Clock::time_point deadline_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::size_t next_ = 0, running_ = 0, finished_ = 0;
  bool stopping_ = false;
  EngineRun run_;
};

}  // namespace

EngineRun run_plan(const Plan& plan, const EngineOptions& options, EngineObserver* observer) {
  Engine engine(plan, options, observer);
  return engine.run();
}

}  // namespace callready
