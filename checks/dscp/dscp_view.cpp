// dscp's picture: a class x direction matrix (preserved / re-marked or
// bleached / unknown) and a table of what arrived, from the details alone.
#include <fmt/format.h>

#include "checks/dscp/dscp_check.hpp"

namespace callready::checks {

namespace {

std::string field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

view::Tone tone_of(const std::string& verdict) {
  if (verdict == "preserved") return view::Tone::good;
  if (verdict == "remarked" || verdict == "bleached") return view::Tone::bad;
  return view::Tone::muted;
}

// "preserved", "remarked: 0 x5, 46 x45 (10%)", "bleached", "unknown: why".
std::string describe(const nlohmann::json& d) {
  std::string verdict = field(d, "verdict");
  if (verdict.empty()) return "—";
  std::string text = verdict;
  if (verdict == "remarked" || verdict == "bleached") {
    std::string values;
    if (auto r = d.find("received"); r != d.end() && r->is_object())
      for (const auto& [value, packets] : r->items())
        values += fmt::format("{}DSCP {} ×{}", values.empty() ? "" : ", ", value, view::text(packets));
    text += ": " + values;
    if (auto pct = d.find("remarked_pct"); pct != d.end() && pct->is_number() && pct->get<double>() < 100)
      text += fmt::format(" ({:g}% re-marked)", pct->get<double>());
  }
  if (auto u = field(d, "unreadable"); !u.empty()) text += ": " + u;
  if (auto e = d.find("ecn_changed"); e != d.end() && *e == true) text += " (ECN changed)";
  return text;
}

}  // namespace

view::View dscp_view(const nlohmann::json& details) {
  auto classes = details.find("classes");
  if (classes == details.end() || !classes->is_array()) return {};  // not this kind's shape: the generic table
  view::Matrix matrix;
  matrix.caption = "DSCP marking per class and direction";
  matrix.columns = {{"upstream"}, {"downstream"}};
  matrix.legend_good = "preserved";
  matrix.legend_bad = "re-marked or bleached";
  matrix.legend_plain = "measured";
  view::Table table;
  table.caption = "What arrived";
  table.headers = {"class", "sent", "transport", "family", "upstream", "downstream"};
  for (const auto& c : *classes) {
    if (!c.is_object()) continue;
    static const nlohmann::json none = nlohmann::json::object();
    const auto& up = c.contains("upstream") ? c["upstream"] : none;
    const auto& down = c.contains("downstream") ? c["downstream"] : none;
    std::string label = fmt::format("{} {} {}", field(c, "name"), field(c, "transport"), field(c, "family"));
    matrix.rows.push_back({label, {tone_of(field(up, "verdict")), tone_of(field(down, "verdict"))}});
    table.rows.push_back({{field(c, "name")},
                          {c.contains("dscp") ? view::text(c["dscp"]) : "—", view::Tone::plain, true},
                          {field(c, "transport")},
                          {field(c, "family")},
                          {describe(up), tone_of(field(up, "verdict"))},
                          {describe(down), tone_of(field(down, "verdict"))}});
  }
  view::View v;
  v.blocks.push_back(std::move(matrix));
  v.blocks.push_back(std::move(table));
  v.shown_keys = {"classes"};
  return v;
}

}  // namespace callready::checks
