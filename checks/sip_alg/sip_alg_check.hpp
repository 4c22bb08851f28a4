#pragma once
#include <nlohmann/json.hpp>

#include "probe/check.hpp"
#include "probe/view.hpp"

namespace callready::checks {
// `sip_alg`: sends realistic SIP requests (INVITE with SDP, REGISTER) to the
// responder's SIP mirror over UDP and/or TCP, from source port 5060 and from an
// ephemeral port, and diffs what arrived against what was sent.
CheckKind sip_alg_check_kind();

// The report's picture of a sip_alg check, from its details alone: the shown
// request field by field (sent, received, how it changed) and every exchange.
view::View sip_alg_view(const nlohmann::json& details);
}  // namespace callready::checks
