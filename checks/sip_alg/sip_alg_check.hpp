#pragma once
#include "probe/check.hpp"

namespace callready::checks {
// `sip_alg`: sends realistic SIP requests (INVITE with SDP, REGISTER) to the
// responder's SIP mirror over UDP and/or TCP, from source port 5060 and from an
// ephemeral port, and diffs what arrived against what was sent.
CheckKind sip_alg_check_kind();
}  // namespace callready::checks
