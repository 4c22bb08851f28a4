#pragma once
// The `ice` kind's far end: `callready respond --ice` hosts a libnice agent
// per session (controlled role), with the responder's own STUN and TURN
// servers (--ice-stun, --ice-turn ...). A client sends its ICE description
// over the control channel ({"op":"service","service":"ice"}); the service
// gathers (capped), answers with its own description and keeps the agent for
// a bounded lifetime, echoing the client's probe datagrams on the selected
// pair. At most kMaxAgents agents live at once; more are refused as busy.
#include "probe/respond/service.hpp"

namespace callready::checks {

respond::ServiceKind ice_service();

}  // namespace callready::checks
