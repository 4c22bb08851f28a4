#include "checks/nat_timeout/nat_timeout_channel.hpp"

namespace callready::checks::nat_timeout {

Millis canary_keepalive(Millis wanted, const std::vector<int>& rungs) {
  if (rungs.empty()) return wanted;
  int shortest = *std::min_element(rungs.begin(), rungs.end());
  return std::max(Millis(200), std::min(wanted, Millis(shortest * 1000LL / 3)));
}

CheckError canary_error(const ChannelRun& canary, const std::vector<int>& rungs, const std::string& what) {
  if (!canary.warmed)
    return CheckError{ErrorReason::setup, Operation::receive,
                      fmt::format("The responder answered the test {} but not the canary ({}): nothing can be "
                                  "concluded about their timeouts",
                                  what, canary.silent_why)};
  std::size_t missing = 0;
  while (missing + 1 < rungs.size() && missing < canary.arrived.size() && canary.arrived[missing]) ++missing;
  return CheckError{
      ErrorReason::setup, Operation::receive,
      fmt::format("The responder's own deferred reply after {} s did not arrive on a {} this client kept busy{}: "
                  "the responder restarted, dropped its timers or is rate-limiting, so no {} can be called expired",
                  rungs.empty() ? 0 : rungs[missing], what,
                  canary.ended.empty() ? "" : " (it ended: " + canary.ended + ")", what)};
}

}  // namespace callready::checks::nat_timeout
