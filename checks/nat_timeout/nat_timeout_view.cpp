// nat_timeout's picture: per protocol, which idle times still reached the
// client, with the lifetime bounds and the line it was judged against, all
// from the report's details.
#include <fmt/format.h>

#include "checks/nat_timeout/nat_timeout_check.hpp"

namespace callready::checks {

namespace {

view::Tone tone_of(const std::string& outcome) {
  if (outcome == "reached") return view::Tone::good;
  if (outcome == "expired") return view::Tone::bad;
  return view::Tone::muted;
}

int threshold(const nlohmann::json& d, const char* key) {
  auto t = d.find("thresholds");
  if (t == d.end() || !t->is_object() || !t->contains(key) || !(*t)[key].is_number_integer()) return 0;
  return (*t)[key].get<int>();
}

void add_rows(view::Table& table, const nlohmann::json& p, const std::string& label, int min_s) {
  if (!p.is_object()) return;
  auto bounds = fmt::format("{} to {}", view::text(p.value("lifetime_min_s", nlohmann::json())),
                            view::text(p.value("lifetime_max_s", nlohmann::json())));
  if (p.contains("unreachable")) {
    table.rows.push_back(
        {{label}, {"—"}, {"unreachable: " + view::text(p["unreachable"]), view::Tone::warn}, {bounds}});
    return;
  }
  auto rungs = p.find("rungs");
  if (rungs == p.end() || !rungs->is_array()) return;
  for (const auto& r : *rungs) {
    if (!r.is_object()) continue;
    auto outcome = r.value("outcome", std::string("unknown"));
    auto idle = r.value("idle_s", 0);
    std::string what = outcome;
    if (r.contains("after")) what += " (afterwards: " + view::text(r["after"]) + ")";
    if (outcome == "expired" && min_s > 0 && idle > min_s)
      what += ", above the required " + std::to_string(min_s) + " s";
    view::Tone tone = tone_of(outcome);
    if (outcome == "expired" && min_s > 0 && idle > min_s) tone = view::Tone::plain;
    table.rows.push_back({{label}, {fmt::format("{} s", idle)}, {what, tone}, {bounds}});
  }
}

}  // namespace

view::View nat_timeout_view(const nlohmann::json& d) {
  view::Table table;
  table.caption = "Idle time before the responder's single packet, per binding";
  table.headers = {"binding", "idle", "deferred packet", "lifetime (s, min to max)"};
  int udp_min = threshold(d, "udp_min_s"), tcp_min = threshold(d, "tcp_min_s");
  auto get = [&](const char* key) { return d.contains(key) ? d[key] : nlohmann::json(); };
  add_rows(table, get("udp"), "UDP, call-like warm-up", udp_min);
  add_rows(table, get("udp_single"), "UDP, single exchange", udp_min);
  add_rows(table, get("tcp"), "TCP connection", tcp_min);
  view::View v;
  if (table.rows.empty()) return v;
  v.blocks.push_back(std::move(table));
  v.shown_keys = {"udp", "udp_single", "tcp"};
  return v;
}

}  // namespace callready::checks
