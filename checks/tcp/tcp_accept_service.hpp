#pragma once
// The `tcp` kind's far end: `callready respond --tcp-ports LIST` accepts and
// closes connections, so a reachability check has something to connect to.
#include "probe/respond/service.hpp"

namespace callready::checks {

respond::ServiceKind tcp_accept_service();

}  // namespace callready::checks
