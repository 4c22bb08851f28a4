#include "checks/stun/stun_metrics.hpp"

namespace callready::checks {

metrics::Samples stun_metrics(const nlohmann::json& d) {
  // Whether the server answered is the check's status series.
  return {
      {"callready_stun_rtt_seconds",
       "Round trip of the STUN Binding transaction",
       "s",
       {},
       metrics::number(d, "rtt_ms", 1000)},
      {"callready_stun_nat",
       "1 when the mapped address differs from the local one (NAT)",
       "",
       {},
       metrics::flag(d, "nat")},
  };
}

}  // namespace callready::checks
