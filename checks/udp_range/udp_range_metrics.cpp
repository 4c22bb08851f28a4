#include "checks/udp_range/udp_range_metrics.hpp"

#include <charconv>

namespace callready::checks {

namespace {

// How many ports a list of "A" / "A-B" strings covers; NaN when absent or malformed.
double ports_in(const nlohmann::json& d, const char* key) {
  auto it = d.find(key);
  if (it == d.end() || !it->is_array()) return metrics::not_measured;
  double total = 0;
  for (const auto& span : *it) {
    if (!span.is_string()) return metrics::not_measured;
    const auto& text = span.get_ref<const std::string&>();
    unsigned first = 0, last = 0;
    auto dash = text.find('-');
    auto head = text.substr(0, dash);
    if (std::from_chars(head.data(), head.data() + head.size(), first).ec != std::errc()) return metrics::not_measured;
    last = first;
    if (dash != std::string::npos) {
      auto tail = text.substr(dash + 1);
      if (std::from_chars(tail.data(), tail.data() + tail.size(), last).ec != std::errc() || last < first)
        return metrics::not_measured;
    }
    total += last - first + 1;
  }
  return total;
}

}  // namespace

metrics::Samples udp_range_metrics(const nlohmann::json& d) {
  return {
      {"callready_udp_ports_open", "UDP ports whose probes reached the responder", "", {}, ports_in(d, "open")},
      {"callready_udp_ports_blocked", "UDP ports whose probes vanished", "", {}, ports_in(d, "blocked")},
      {"callready_udp_ports_rejected", "UDP ports answered with ICMP unreachable", "", {}, ports_in(d, "rejected")},
      {"callready_udp_loss_ratio",
       "Estimated random loss on open ports (0-1)",
       "",
       {},
       metrics::number(d, "loss_estimate")},
  };
}

}  // namespace callready::checks
