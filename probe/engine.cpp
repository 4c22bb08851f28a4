#include "probe/engine.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "probe/net/host_port.hpp"
#include "probe/net/responder_control.hpp"

namespace asio = boost::asio;

namespace callready {

namespace {

struct Slot {
  std::size_t index;
  asio::cancellation_signal cancel;
  Timer timer;
  Clock::time_point start = Clock::now();
  bool done = false;
  std::optional<ErrorReason> cancel_reason;  // timeout | interrupted
  Millis allowed{0};                         // its timeout, or less when the overall deadline is nearer
  CheckContext ctx;
  Slot(std::size_t i, asio::io_context& io, net::Resolver& resolver, const ScanSettings& settings,
       net::ResponderLink& responder, Clock::time_point deadline, std::function<void(const std::string&)> log)
      : index(i), timer(io), ctx{io.get_executor(), resolver, deadline, settings, responder, std::move(log)} {}
};

// The control port --responder names, else the default.
std::uint16_t control_port_of(const ScanSettings& settings) {
  if (settings.responder)
    if (auto hp = net::parse_host_port(*settings.responder); hp && hp->port) return *hp->port;
  return net::kDefaultControlPort;
}

class Engine {
 public:
  Engine(const Plan& plan, const EngineOptions& options, EngineObserver* observer)
      : plan_(plan),
        options_(options),
        observer_(observer),
        resolver_(io_.get_executor(), options.dns_server),
        responder_(io_.get_executor(), control_port_of(options.settings), options.settings.token),
        overall_timer_(io_),
        signals_(io_) {
    run_.runs.resize(plan.checks.size());
    concurrency_ = std::min(options.concurrency, concurrency_for_descriptors(raise_descriptor_limit()));
    if (concurrency_ < options.concurrency)
      log(fmt::format("--concurrency {} lowered to {}: file descriptors are limited", options.concurrency,
                      concurrency_));
  }

  EngineRun run() {
    deadline_ = Clock::now() + options_.overall_timeout;
    if (plan_.checks.empty()) return std::move(run_);
    overall_timer_.expires_at(deadline_);
    overall_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) stop_all(ErrorReason::timeout);
    });
    if (options_.handle_sigint) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](boost::system::error_code ec, int) {
        if (!ec) stop_all(ErrorReason::interrupted);
      });
    }
    launch_more();
    run_io(io_);
    return std::move(run_);
  }

 private:
  void log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

  void launch_more() {
    while (!stopping_ && running_ < static_cast<std::size_t>(std::max(1, concurrency_)) && next_ < plan_.checks.size())
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
      CheckRun skipped;
      skipped.outcome.summary = "Skipped: " + *pc.skip_reason;
      skipped.skipped = true;
      complete(i, std::move(skipped));
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
    auto slot = std::make_shared<Slot>(i, io_, resolver_, options_.settings, responder_, own_deadline, logger);
    slot->allowed = std::chrono::duration_cast<Millis>(check_deadline - slot->start);
    if (own_deadline <= deadline_) slot->allowed = pc.timeout;
    slots_.push_back(slot);
    ++running_;
    if (observer_) observer_->check_started(pc);
    slot->timer.expires_at(check_deadline);
    slot->timer.async_wait([this, slot](boost::system::error_code ec) {
      if (!ec && !slot->done) cancel(slot, ErrorReason::timeout);
    });
    asio::co_spawn(
        io_, pc.kind->run(pc.params, slot->ctx),
        asio::bind_cancellation_slot(slot->cancel.slot(), [this, slot](std::exception_ptr e, CheckOutcome outcome) {
          finish(slot, e, std::move(outcome));
        }));
  }

  void cancel(const std::shared_ptr<Slot>& slot, ErrorReason reason) {
    if (slot->done || slot->cancel_reason) return;
    slot->cancel_reason = reason;
    log(fmt::format("{}: cancelling ({})", plan_.checks[slot->index].rule.id, to_string(reason)));
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
    CheckRun done;
    done.duration_ms = std::chrono::duration_cast<Millis>(Clock::now() - slot->start).count();
    if (slot->cancel_reason && (e || abandoned || outcome.error)) {
      auto reason = *slot->cancel_reason;
      outcome = CheckOutcome::failed(reason, reason == ErrorReason::timeout
                                                 ? fmt::format("did not finish within {} ms", slot->allowed.count())
                                                 : std::string("the scan was interrupted before this check finished"));
    } else if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& ex) {
        outcome = escaped_error(ex.code().value(), ex.what());
      } catch (const std::system_error& ex) {
        outcome = escaped_error(ex.code().value(), ex.what());
      } catch (const std::exception& ex) {
        outcome = CheckOutcome::failed(ErrorReason::internal, fmt::format("the check broke: {}", ex.what()));
      } catch (...) {
        outcome = CheckOutcome::failed(ErrorReason::internal, "the check broke with an unknown exception");
      }
    }
    done.outcome = std::move(outcome);
    --running_;
    complete(slot->index, std::move(done));
    launch_more();
  }

  // Out of descriptors is this machine's fault (`local`), never the network's.
  static CheckOutcome escaped_error(int code, const std::string& what) {
    if (code == EMFILE || code == ENFILE)
      return CheckOutcome::failed(ErrorReason::local, fmt::format("out of file descriptors: {}", what));
    return CheckOutcome::failed(ErrorReason::internal, fmt::format("the check broke: {}", what));
  }

  void complete(std::size_t i, CheckRun done) {
    run_.runs[i] = std::move(done);
    ++finished_;
    if (observer_) observer_->check_finished(plan_.checks[i], run_.runs[i]);
  }

  void stop_all(ErrorReason reason) {
    if (stopping_) return;
    stopping_ = true;
    (reason == ErrorReason::timeout ? run_.deadline_reached : run_.interrupted) = true;
    log(std::string("stopping: ") + to_string(reason));
    // Checks that never started.
    while (next_ < plan_.checks.size()) {
      std::size_t i = next_++;
      CheckRun never;
      never.outcome = CheckOutcome::failed(reason, reason == ErrorReason::timeout
                                                       ? "not started before the overall deadline (--timeout)"
                                                       : "not started: the scan was interrupted");
      complete(i, std::move(never));
    }
    for (auto& s : slots_)
      if (!s->done) cancel(s, reason);
    if (finished_ == plan_.checks.size()) launch_more();
  }

  const Plan& plan_;
  const EngineOptions& options_;
  EngineObserver* observer_;
  // The scan's io_context; it also owns the scan's per-address RTT store
  // (net::path_rtt(executor)), which every check's silence waits share.
  asio::io_context io_;
  net::Resolver resolver_;
  net::ResponderLink responder_;
  Timer overall_timer_;
  asio::signal_set signals_;
  Clock::time_point deadline_;
  std::vector<std::shared_ptr<Slot>> slots_;
  int concurrency_ = 1;
  std::size_t next_ = 0, running_ = 0, finished_ = 0;
  bool stopping_ = false;
  EngineRun run_;
};

}  // namespace

DescriptorBudget raise_descriptor_limit() {
  DescriptorBudget budget;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < lim.rlim_max) {
      rlimit raised = lim;
      raised.rlim_cur = lim.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    budget.limit =
        lim.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(std::min<rlim_t>(lim.rlim_cur, 1L << 20));
  }
  std::error_code ec;
  long open = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++open;
  if (!ec) budget.in_use = open;
  return budget;
}

int concurrency_for_descriptors(const DescriptorBudget& budget) {
  long spare = budget.limit - budget.in_use - kDescriptorsReserved;
  return static_cast<int>(std::clamp<long>(spare / kDescriptorsPerCheck, 1, 1L << 20));
}

EngineRun run_plan(const Plan& plan, const EngineOptions& options, EngineObserver* observer) {
  Engine engine(plan, options, observer);
  return engine.run();
}

}  // namespace callready
