#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `ntp`: an SNTP client (RFC 5905 client mode) against host:port; reports
// whether UDP 123 answered, was rejected or stayed silent, the server's
// offset, delay, stratum, reference, leap indicator, root distance and any
// kiss-o'-death, and this machine's own clock synchronisation state.
CheckKind ntp_check_kind();
}  // namespace callready::checks
