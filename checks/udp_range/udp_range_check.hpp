#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `udp_range`: authenticated echo probes to every port of a range on
// `callready respond`; each port open (echo), blocked (silence after every
// attempt) or rejected (ICMP unreachable).
CheckKind udp_range_check_kind();
}  // namespace callready::checks
