#pragma once
// What monitoring systems read of an `ntp` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples ntp_metrics(const nlohmann::json& details);

}  // namespace callready::checks
