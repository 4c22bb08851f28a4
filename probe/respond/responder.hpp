#pragma once
// `callready respond`: the far end cooperative checks talk to. The host runs
// the control port, the session log and whichever registered services were
// given ports (probe/respond/service.hpp).
#include <string>
#include <vector>

#include "probe/respond/service.hpp"

namespace callready::respond {

// Runs until SIGTERM/SIGINT; returns the process exit status.
int run_responder(const ResponderOptions& options, const std::vector<ServiceKind>& services);

}  // namespace callready::respond
