#include "checks/ntp/ntp_metrics.hpp"

namespace callready::checks {

metrics::Samples ntp_metrics(const nlohmann::json& d) {
  // Whether UDP 123 answered is the check's status series.
  return {
      {"callready_ntp_offset_seconds",
       "The server's clock minus this machine's, from the lowest-delay sample",
       "s",
       {},
       metrics::number(d, "offset_ms", 1000)},
      {"callready_ntp_delay_seconds",
       "Round-trip delay of the lowest-delay sample",
       "s",
       {},
       metrics::number(d, "delay_ms", 1000)},
      {"callready_ntp_stratum", "The server's stratum (0: kiss-o'-death)", "", {}, metrics::number(d, "stratum")},
      {"callready_ntp_root_distance_seconds",
       "The server's root distance plus half this sample's delay (RFC 5905)",
       "s",
       {},
       metrics::number(d, "root_distance_ms", 1000)},
  };
}

}  // namespace callready::checks
