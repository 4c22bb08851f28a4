#pragma once
// The `stun` kind's far end: `callready respond --stun-ports LIST` answers
// STUN Binding (RFC 5389/8489) over UDP and TCP; with --alt-address also
// RFC 5780 (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST).
#include "probe/respond/service.hpp"

namespace callready::checks {

respond::ServiceKind stun_service();

}  // namespace callready::checks
