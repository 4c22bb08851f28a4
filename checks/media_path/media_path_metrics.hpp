#pragma once
// What monitoring systems read of a `media_path` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples media_path_metrics(const nlohmann::json& details);

}  // namespace callready::checks
