#pragma once
// What monitoring systems read of a `dscp` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples dscp_metrics(const nlohmann::json& details);

}  // namespace callready::checks
