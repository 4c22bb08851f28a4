// The tcp kind's picture, from a report's details alone: one row per address tried.
#include <fmt/format.h>

#include "checks/tcp/tcp_check.hpp"

namespace callready::checks::tcp {

view::View tcp_view(const nlohmann::json& d) {
  view::View v;
  const auto& attempts = d.value("attempts", nlohmann::json::array());
  if (!attempts.is_array() || attempts.empty()) return v;
  view::Table t;
  t.caption = "Addresses tried";
  t.headers = {"Address", "Result", "Time (ms)"};
  for (const auto& a : attempts) {
    if (!a.is_object()) continue;
    bool connected = a.value("connected", false);
    const auto& rtt = a.value("rtt_ms", nlohmann::json());
    t.rows.push_back({{a.value("address", std::string("?")), view::Tone::plain, true},
                      {connected ? std::string("connected") : a.value("error", std::string("failed")),
                       connected ? view::Tone::good : view::Tone::bad},
                      {rtt.is_number() ? fmt::format("{}", rtt.get<double>()) : "\u2014"}});
  }
  v.blocks.push_back(std::move(t));
  v.shown_keys = {"attempts"};
  return v;
}

}  // namespace callready::checks::tcp
