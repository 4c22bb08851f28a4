#include "checks/dscp/dscp_metrics.hpp"

namespace callready::checks {

namespace {

// 1 preserved, 0 remarked or bleached, NaN unknown (nothing came back to tell).
double preserved(const nlohmann::json& direction) {
  auto it = direction.find("verdict");
  if (it == direction.end() || !it->is_string()) return metrics::not_measured;
  const auto& v = it->get_ref<const std::string&>();
  if (v == "preserved") return 1;
  if (v == "remarked" || v == "bleached") return 0;
  return metrics::not_measured;
}

std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// One series per class, family and direction the params asked for: the
// profile bounds the count (4 classes x 2 families x 2 directions by default).
metrics::Samples dscp_metrics(const nlohmann::json& d) {
  metrics::Samples out;
  auto it = d.find("classes");
  if (it == d.end() || !it->is_array()) return out;
  for (const auto& c : *it) {
    if (!c.is_object()) continue;
    for (const char* direction : {"upstream", "downstream"}) {
      auto dir = c.find(direction);
      std::map<std::string, std::string> labels{{"class", text(c, "name")},
                                                {"direction", direction},
                                                {"family", text(c, "family")},
                                                {"transport", text(c, "transport")}};
      out.push_back({"callready_dscp_preserved",
                     "1 when the class's DSCP arrived unchanged, 0 when re-marked or bleached", "", labels,
                     dir != c.end() && dir->is_object() ? preserved(*dir) : metrics::not_measured});
    }
  }
  return out;
}

}  // namespace callready::checks
