#include "checks/dscp/dscp_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>

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

// The worse of two verdicts: a re-mark in either family is a re-mark.
double worse(double a, double b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return std::min(a, b);
}

}  // namespace

// One series per class and direction (at most 4 x 2 by default), the
// families folded into it: 1 only when every family tested kept the
// marking. Which family re-marked is in the report's details; a series per
// family would double the count for what an alert needs to know.
metrics::Samples dscp_metrics(const nlohmann::json& d) {
  metrics::Samples out;
  auto it = d.find("classes");
  if (it == d.end() || !it->is_array()) return out;
  for (const auto& c : *it) {
    if (!c.is_object()) continue;
    for (const char* direction : {"upstream", "downstream"}) {
      auto dir = c.find(direction);
      double value = dir != c.end() && dir->is_object() ? preserved(*dir) : metrics::not_measured;
      std::map<std::string, std::string> labels{
          {"class", text(c, "name")}, {"direction", direction}, {"transport", text(c, "transport")}};
      auto same = std::find_if(out.begin(), out.end(), [&](const auto& s) { return s.labels == labels; });
      if (same != out.end())
        same->value = worse(same->value, value);
      else
        out.push_back({"callready_dscp_preserved",
                       "1 when the class's DSCP arrived unchanged in every family, 0 when re-marked or bleached", "",
                       std::move(labels), value});
    }
  }
  return out;
}

}  // namespace callready::checks
