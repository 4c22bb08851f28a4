#include "checks/nat_timeout/nat_timeout_metrics.hpp"

namespace callready::checks {

// Per flow (udp call-like, udp_single, tcp): the bounds of the binding's
// lifetime and the longest idle time tried. Three series per flow whatever
// happened; a flow not run or a bound not found is NaN.
metrics::Samples nat_timeout_metrics(const nlohmann::json& d) {
  metrics::Samples out;
  for (const char* flow : {"udp", "udp_single", "tcp"}) {
    auto it = d.find(flow);
    const auto& f = it != d.end() && it->is_object() ? *it : nlohmann::json::object();
    std::map<std::string, std::string> labels{{"flow", flow}};
    out.push_back({"callready_nat_binding_lifetime_min_seconds",
                   "Longest idle time after which the binding still carried the responder's packet", "s", labels,
                   metrics::number(f, "lifetime_min_s")});
    out.push_back({"callready_nat_binding_lifetime_max_seconds",
                   "Shortest idle time after which it did not (NaN: none expired)", "s", labels,
                   metrics::number(f, "lifetime_max_s")});
    out.push_back({"callready_nat_binding_idle_tried_seconds", "Longest idle time the run tried", "s", labels,
                   metrics::number(f, "max_s")});
  }
  return out;
}

}  // namespace callready::checks
