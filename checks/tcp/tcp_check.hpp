#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `tcp`: connect to host:port; every address of the host (IPv4 and IPv6) is tried and reported.
CheckKind tcp_check_kind();
}  // namespace callready::checks
