#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `dns`: A, AAAA, SRV (RFC 2782 order, optional target resolution) and PTR.
CheckKind dns_check_kind();
}  // namespace callready::checks
