#include "checks/pmtu/pmtu_metrics.hpp"

namespace callready::checks {

metrics::Samples pmtu_metrics(const nlohmann::json& d) {
  return {
      {"callready_path_mtu_bytes",
       "Largest IP packet that crossed the path with DF set",
       "B",
       {},
       metrics::number(d, "path_mtu")},
      {"callready_pmtu_icmp_seen",
       "1 when a Fragmentation Needed / Packet Too Big arrived",
       "",
       {},
       metrics::flag(d, "icmp_seen")},
      {"callready_pmtu_black_hole", "1 when large packets vanish without ICMP", "", {}, metrics::flag(d, "black_hole")},
  };
}

}  // namespace callready::checks
