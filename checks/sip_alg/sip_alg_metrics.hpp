#pragma once
// What monitoring systems read of a `sip_alg` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples sip_alg_metrics(const nlohmann::json& details);

}  // namespace callready::checks
