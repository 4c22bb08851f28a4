#include "checks/media_path/media_path_metrics.hpp"

namespace callready::checks {

metrics::Samples media_path_metrics(const nlohmann::json& d) {
  // One series per transport (one-hot, all 0 when no path), and the RTT over the chosen one.
  auto path = d.find("path");
  bool known = path != d.end() && (path->is_string() || path->is_null());
  std::string chosen = path != d.end() && path->is_string() ? path->get<std::string>() : std::string();
  double rtt = metrics::not_measured;
  if (auto attempts = d.find("attempts"); attempts != d.end() && attempts->is_array())
    for (const auto& a : *attempts)
      if (a.is_object() && a.value("result", std::string()) == "ok") {
        rtt = metrics::number(a, "rtt_ms", 1000);
        break;
      }
  metrics::Samples out;
  for (const char* transport : {"udp", "tcp", "tls"})
    out.push_back({"callready_media_path_transport",
                   "1 for the transport media would take (udp, tcp, tls)",
                   "",
                   {{"transport", transport}},
                   known ? (chosen == transport ? 1.0 : 0.0) : metrics::not_measured});
  out.push_back(
      {"callready_media_path_rtt_seconds", "Echo round trip over the transport media would take", "s", {}, rtt});
  return out;
}

}  // namespace callready::checks
