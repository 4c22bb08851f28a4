#include "checks/tcp/tcp_metrics.hpp"

namespace callready::checks {

metrics::Samples tcp_metrics(const nlohmann::json& d) {
  // rtt_ms is also written for a failed attempt (until it failed): only a
  // connect time counts. Whether it connected is the check's status series.
  double rtt = metrics::flag(d, "connected") == 1 ? metrics::number(d, "rtt_ms", 1000) : metrics::not_measured;
  return {
      {"callready_tcp_connect_seconds", "Time to establish the TCP connection (NaN when none was)", "s", {}, rtt},
  };
}

}  // namespace callready::checks
