#include "checks/dns/dns_metrics.hpp"

namespace callready::checks {

metrics::Samples dns_metrics(const nlohmann::json& d) {
  return {
      {"callready_dns_lookup_seconds",
       "Time until the DNS answer arrived",
       "s",
       {},
       metrics::number(d, "rtt_ms", 1000)},
      {"callready_dns_answers", "Records in the DNS answer", "", {}, metrics::count(d, "answers")},
  };
}

}  // namespace callready::checks
