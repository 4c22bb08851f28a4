#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `stun`: a Binding request to host:port over UDP (RFC 5389 retransmission)
// or TCP; reports reachability, the mapped (public) address, ALG rewriting,
// and with an RFC 5780 server the NAT's mapping and filtering behaviour.
CheckKind stun_check_kind();
}  // namespace callready::checks
