#pragma once
// What monitoring systems read of a `tls` check (Prometheus samples, Nagios perfdata).
#include <nlohmann/json.hpp>

#include "probe/metrics.hpp"

namespace callready::checks {

metrics::Samples tls_metrics(const nlohmann::json& details);

}  // namespace callready::checks
