// pmtu's picture: the path MTU on a bar with the lines it was judged against,
// all read from the report's details (the thresholds the scan used then).
#include <fmt/format.h>

#include <algorithm>

#include "checks/pmtu/pmtu_check.hpp"

namespace callready::checks {

namespace {

std::optional<double> number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

view::View pmtu_view(const nlohmann::json& d) {
  view::Bar bar;
  bar.caption = "Largest packet that crossed with Don't Fragment set";
  bar.unit = "bytes";
  bar.value = number(d, "path_mtu");
  static const nlohmann::json none = nlohmann::json::object();
  auto found = d.find("thresholds");
  const nlohmann::json& t = found != d.end() && found->is_object() ? *found : none;
  auto critical = number(t, "critical_below");
  auto warning = number(t, "warning_below");
  if (critical) bar.thresholds.push_back({*critical, fmt::format("{:.0f} minimum", *critical), view::Tone::bad});
  if (warning) bar.thresholds.push_back({*warning, fmt::format("{:.0f} recommended", *warning), view::Tone::warn});
  double top = std::max({1600.0, bar.value.value_or(0) + 100, warning.value_or(0) + 100});
  bar.max = top;
  if (bar.value) {
    if (critical && *bar.value < *critical)
      bar.tone = view::Tone::bad;
    else if (warning && *bar.value < *warning)
      bar.tone = view::Tone::warn;
    else
      bar.tone = view::Tone::good;
  }
  auto black_hole = d.find("black_hole");
  if (black_hole != d.end() && *black_hole == true)
    bar.note = "Larger packets vanish without an ICMP error (black hole).";
  else if (!bar.value && d.contains("undetermined") && d["undetermined"].is_string())
    bar.note = d["undetermined"].get<std::string>();
  view::View v;
  v.blocks.push_back(std::move(bar));
  v.shown_keys = {"path_mtu", "black_hole", "thresholds"};
  return v;
}

}  // namespace callready::checks
