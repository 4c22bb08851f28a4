#include "probe/respond/loop_faults.hpp"

#include <memory>

namespace callready::respond {

void LoopFaults::caught(const std::string& what, Clock::time_point now) {
  ++count_;
  if (logged_once_ && now - last_logged_ < interval_) {
    ++suppressed_;
    return;
  }
  std::string line = service_ + ": dropped a request that raised an error (" + what + "); the service goes on";
  if (suppressed_ > 0) line += "; " + std::to_string(suppressed_) + " more since the last such line";
  if (log_) log_("warn", line);
  logged_once_ = true;
  last_logged_ = now;
  suppressed_ = 0;
}

ResponderLog rate_limited_log(ResponderLog log, std::string source, std::size_t lines, Clock::duration interval) {
  if (!log) return log;
  struct Budget {
    Clock::time_point start{};
    bool started = false;
    std::size_t used = 0;
    std::uint64_t suppressed = 0;
  };
  auto budget = std::make_shared<Budget>();
  return [log = std::move(log), source = std::move(source), lines, interval, budget](const std::string& level,
                                                                                     const std::string& line) {
    auto now = Clock::now();
    if (!budget->started || now - budget->start >= interval) {
      if (budget->suppressed > 0) log("warn", source + ": " + std::to_string(budget->suppressed) + " lines suppressed");
      budget->start = now;
      budget->started = true;
      budget->used = 0;
      budget->suppressed = 0;
    }
    if (budget->used >= lines) {
      ++budget->suppressed;
      return;
    }
    ++budget->used;
    log(level, line);
  };
}

}  // namespace callready::respond
