#pragma once
// What monitoring systems read of a `nat_timeout` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples nat_timeout_metrics(const nlohmann::json& details);

}  // namespace callready::checks
