#pragma once
// What monitoring systems read of a `udp_range` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples udp_range_metrics(const nlohmann::json& details);

}  // namespace callready::checks
