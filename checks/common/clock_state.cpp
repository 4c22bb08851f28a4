#include "checks/common/clock_state.hpp"

#include <sys/timex.h>

#include <nlohmann/json.hpp>

namespace callready::checks {

ClockState read_clock_state() {
  timex tx{};
  tx.modes = 0;
  int state = ::adjtimex(&tx);
  ClockState s;
  if (state == -1) return s;
  s.known = true;
  s.synchronised = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  s.estimated_error_ms = static_cast<double>(tx.esterror) / 1000.0;
  s.maximum_error_ms = static_cast<double>(tx.maxerror) / 1000.0;
  return s;
}

void to_json(nlohmann::json& j, const ClockState& s) {
  j = {{"known", s.known},
       {"synchronised", s.synchronised},
       {"estimated_error_ms", s.estimated_error_ms},
       {"maximum_error_ms", s.maximum_error_ms}};
}

}  // namespace callready::checks
