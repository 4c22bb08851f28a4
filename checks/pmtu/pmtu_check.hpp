#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `pmtu`: the largest IP packet that crosses the path to the responder with DF
// set, exact to the byte; ICMP Fragmentation Needed seen or not; black holes.
CheckKind pmtu_check_kind();
}  // namespace callready::checks
