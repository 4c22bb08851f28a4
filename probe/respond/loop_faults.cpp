#include "probe/respond/loop_faults.hpp"

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

}  // namespace callready::respond
