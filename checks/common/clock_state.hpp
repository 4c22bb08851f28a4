#pragma once
// Whether this machine's clock is disciplined, as the kernel says it (the
// adjtimex(2) status word and error estimates an NTP daemon maintains). A
// one-way delay is only meaningful when both ends are synchronised; an NTP
// check reports the local state next to the server's offset.
#include <nlohmann/json_fwd.hpp>

namespace callready::checks {

struct ClockState {
  bool known = false;             // adjtimex answered at all
  bool synchronised = false;      // no STA_UNSYNC and the kernel did not report TIME_ERROR
  double estimated_error_ms = 0;  // the daemon's estimate (timex.esterror)
  double maximum_error_ms = 0;    // its bound (timex.maxerror)
};

// The kernel's view, read without changing anything (adjtimex with modes 0).
ClockState read_clock_state();

// {"known", "synchronised", "estimated_error_ms", "maximum_error_ms"}
void to_json(nlohmann::json& j, const ClockState& s);

}  // namespace callready::checks
