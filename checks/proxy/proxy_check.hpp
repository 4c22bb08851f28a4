#pragma once
#include <nlohmann/json.hpp>

#include "probe/check.hpp"
#include "probe/metrics.hpp"
#include "probe/view.hpp"

namespace callready::checks {
// `proxy`: what proxies do to this site's web traffic. Against the
// responder's HTTP echo (plain and TLS): a transparent proxy (headers added,
// changed or removed, another source address, an answer that is not the
// echo's) and TLS inspection (a certificate whose key is not the echo's);
// through the explicit proxy the environment or the params name: CONNECT to
// each target, 407 demands, and the TLS chain each target shows; optionally
// the WPAD/PAC file (fetched, never executed).
CheckKind proxy_check_kind();

view::View proxy_view(const nlohmann::json& details);
metrics::Samples proxy_metrics(const nlohmann::json& details);
}  // namespace callready::checks
