// The media_path kind's picture, from a report's details alone: one row per rung tried.
#include <fmt/format.h>

#include "checks/media_path/media_path_check.hpp"

namespace callready::checks {

view::View media_path_view(const nlohmann::json& d) {
  view::View v;
  const auto& attempts = d.value("attempts", nlohmann::json::array());
  if (!attempts.is_array() || attempts.empty()) return v;
  view::Table t;
  const auto& path = d.value("path", nlohmann::json());
  t.caption = path.is_string() ? "Media path: " + path.get<std::string>() : std::string("Media path: none");
  t.headers = {"Transport", "Port", "Result", "Why", "RTT (ms)"};
  for (const auto& a : attempts) {
    if (!a.is_object()) continue;
    auto result = a.value("result", std::string("?"));
    bool ok = result == "ok";
    const auto& rtt = a.value("rtt_ms", nlohmann::json());
    const auto& port = a.value("port", nlohmann::json());
    t.rows.push_back({{a.value("transport", std::string("?")), view::Tone::plain, true},
                      {port.is_number_integer() ? std::to_string(port.get<long long>()) : std::string("?")},
                      {result, ok ? view::Tone::good : view::Tone::bad},
                      {a.value("detail", std::string())},
                      {rtt.is_number() ? fmt::format("{}", rtt.get<double>()) : "\u2014"}});
  }
  v.blocks.push_back(std::move(t));
  v.shown_keys = {"attempts", "path"};
  return v;
}

}  // namespace callready::checks
