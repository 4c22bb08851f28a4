// media_quality's picture and samples, from the details alone: a table per
// direction, the E-model inputs, the MOS on its scale, and a timeline (RTT
// per packet as a line, loss marks per direction).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "checks/media_quality/media_quality_check.hpp"

namespace callready::checks {

namespace {

const nlohmann::json& object_at(const nlohmann::json& j, const char* key) {
  static const nlohmann::json none = nlohmann::json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : none;
}

std::string num(const nlohmann::json& j, const char* key, const char* unit = "") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return "—";
  return fmt::format("{:g}{}", it->get<double>(), unit);
}

view::Table direction_table(const nlohmann::json& d) {
  const auto& up = object_at(d, "upstream");
  const auto& down = object_at(d, "downstream");
  view::Table t;
  t.caption = "Per direction";
  t.headers = {"", "upstream (to the responder)", "downstream (back)"};
  auto row = [&](const char* label, auto cell) { t.rows.push_back({{label}, {cell(up)}, {cell(down)}}); };
  row("packets sent / received", [](const nlohmann::json& x) { return num(x, "sent") + " / " + num(x, "received"); });
  row("loss", [](const nlohmann::json& x) { return num(x, "loss_pct", "%"); });
  row("longest burst (packets)", [](const nlohmann::json& x) { return num(x, "max_burst"); });
  row("burst / gap density (Gmin 16)",
      [](const nlohmann::json& x) { return num(x, "burst_density", "%") + " / " + num(x, "gap_density", "%"); });
  row("jitter (RFC 3550)", [](const nlohmann::json& x) { return num(x, "jitter_ms", " ms"); });
  row("IPDV p50 / p95 / p99", [](const nlohmann::json& x) {
    const auto& i = object_at(x, "ipdv_ms");
    return num(i, "p50") + " / " + num(i, "p95") + " / " + num(i, "p99") + " ms";
  });
  row("reordered / duplicated",
      [](const nlohmann::json& x) { return num(x, "reordered") + " / " + num(x, "duplicates"); });
  row("one-way delay", [](const nlohmann::json& x) { return num(x, "one_way_delay_ms", " ms"); });
  row("worst 200 ms loss", [](const nlohmann::json& x) { return num(x, "worst_200ms_loss_pct", "%"); });
  row("worst 5 s loss / jitter", [](const nlohmann::json& x) {
    return num(x, "worst_5s_loss_pct", "%") + " / " + num(x, "worst_5s_jitter_ms", " ms");
  });
  row("E-model: Ppl, BurstR, delay", [](const nlohmann::json& x) {
    const auto& e = object_at(x, "e_model");
    return num(e, "ppl_pct", "%") + ", " + num(e, "burst_r") + ", " + num(e, "delay_ms", " ms");
  });
  row("E-model: Id, Ie_eff -> R, MOS", [](const nlohmann::json& x) {
    const auto& e = object_at(x, "e_model");
    return num(e, "id") + ", " + num(e, "ie_eff") + " -> " + num(e, "r") + ", " + num(e, "mos");
  });
  return t;
}

view::Table round_trip_table(const nlohmann::json& d) {
  view::Table t;
  t.caption = "Round trip and clocks";
  const auto& rtt = object_at(d, "rtt_ms");
  t.rows.push_back({{"RTT min / median / p95 / p99 / max"},
                    {num(rtt, "min") + " / " + num(rtt, "median") + " / " + num(rtt, "p95") + " / " + num(rtt, "p99") +
                     " / " + num(rtt, "max") + " ms"}});
  const auto& clock = object_at(d, "clock");
  auto synced = clock.find("synchronised");
  std::string state = synced != clock.end() && *synced == true ? "both synchronised" : "not synchronised";
  if (auto note = clock.find("note"); note != clock.end() && note->is_string())
    state += ": " + note->get<std::string>();
  t.rows.push_back({{"clocks"}, {state}});
  t.rows.push_back({{"offset estimate (responder - client)"}, {num(clock, "offset_ms", " ms")}});
  t.rows.push_back({{"codec, DSCP, source port"},
                    {fmt::format("{}, {}, {}", view::text(d.value("codec", nlohmann::json())), num(d, "dscp"),
                                 num(d, "source_port")),
                     view::Tone::plain, true}});
  return t;
}

// The round trip of every packet over the seconds of the stream (of each
// bucket's worst packet on long streams), with a lane of loss marks per
// direction beneath it.
view::Series timeline(const nlohmann::json& d) {
  view::Series s;
  s.caption = "Timeline: RTT per packet; red marks: packets lost in that direction";
  s.x_unit = "s";
  s.y_unit = "ms";
  s.y_label = "RTT";
  const auto& tl = object_at(d, "timeline");
  auto rtt = tl.find("rtt_ms");
  auto loss = tl.find("loss");
  if (rtt == tl.end() || !rtt->is_array() || rtt->empty()) return s;
  std::string marks = loss != tl.end() && loss->is_string() ? loss->get<std::string>() : std::string();
  const std::size_t points = rtt->size();
  // A point stands for `step` packets (the details keep at most 500 points).
  const double sent = std::max(0.0, d.value("packets_sent", 0.0)), duration = std::max(0.0, d.value("duration_s", 0.0));
  const double step = sent > static_cast<double>(points) ? std::ceil(sent / static_cast<double>(points)) : 1;
  const double packets = std::max(sent, static_cast<double>(points));
  auto x_of = [&](std::size_t i) {
    double at = static_cast<double>(i) * step / packets;
    return duration > 0 ? at * duration : static_cast<double>(i);
  };
  s.x_min = 0;
  s.x_max = duration > 0 ? duration : static_cast<double>(points);
  if (duration <= 0) s.x_unit = "";
  view::Series::Lane up{"upstream loss", {}, view::Tone::bad}, down{"downstream loss", {}, view::Tone::bad};
  for (std::size_t i = 0; i < points; ++i) {
    const auto& v = (*rtt)[i];
    view::Series::Point p{x_of(i), std::nullopt};
    if (v.is_number()) p.y = v.get<double>();
    s.points.push_back(p);
    char c = i < marks.size() ? marks[i] : '.';
    if (c == 'u' || c == 'b') up.x.push_back(p.x);
    if (c == 'd' || c == 'b') down.x.push_back(p.x);
  }
  s.lanes = {std::move(up), std::move(down)};
  if (auto m = object_at(d, "rtt_ms").find("median"); m != object_at(d, "rtt_ms").end() && m->is_number())
    s.lines.push_back({m->get<double>(), fmt::format("median {:g} ms", m->get<double>()), view::Tone::plain});
  return s;
}

}  // namespace

view::View media_quality_view(const nlohmann::json& details) {
  if (!details.contains("upstream") || !details.contains("downstream")) return {};
  view::View v;
  view::Bar mos;
  mos.caption = "MOS (ITU-T G.107 E-model, the worse direction)";
  if (auto it = details.find("mos"); it != details.end() && it->is_number() && details.value("replies", 0) > 0)
    mos.value = it->get<double>();
  mos.min = 1;
  mos.max = 4.5;
  mos.thresholds = {{3.6, "fail below 3.6", view::Tone::bad}, {4.0, "warn below 4.0", view::Tone::warn}};
  mos.tone = !mos.value          ? view::Tone::muted
             : *mos.value >= 4.0 ? view::Tone::good
             : *mos.value >= 3.6 ? view::Tone::warn
                                 : view::Tone::bad;
  // A codec without published E-model constants has no MOS: say why.
  auto note = details.find("mos_note");
  mos.note = !mos.value && note != details.end() && note->is_string() ? note->get<std::string>()
                                                                      : fmt::format("R {}", num(details, "r_factor"));
  v.blocks.push_back(std::move(mos));
  v.blocks.push_back(direction_table(details));
  v.blocks.push_back(round_trip_table(details));
  auto tl = timeline(details);
  if (!tl.points.empty()) v.blocks.push_back(std::move(tl));
  v.shown_keys = {"upstream", "downstream", "rtt_ms", "clock",       "r_factor", "mos",
                  "mos_note", "timeline",   "codec",  "source_port", "dscp"};
  return v;
}

metrics::Samples media_quality_metrics(const nlohmann::json& d) {
  metrics::Samples out;
  out.push_back({"callready_media_mos",
                 "MOS of the worse direction (ITU-T G.107 E-model)",
                 "",
                 {},
                 d.value("replies", 0) > 0 ? metrics::number(d, "mos") : metrics::not_measured});
  out.push_back({"callready_media_rtt_seconds",
                 "median network round trip of the stream",
                 "s",
                 {},
                 metrics::number(object_at(d, "rtt_ms"), "median", 1000)});
  for (const char* direction : {"upstream", "downstream"}) {
    const auto& x = object_at(d, direction);
    std::map<std::string, std::string> labels{{"direction", direction}};
    out.push_back({"callready_media_loss_ratio", "packets lost in this direction (0-1)", "", labels,
                   metrics::number(x, "loss_pct", 100)});
    out.push_back({"callready_media_jitter_seconds", "RFC 3550 interarrival jitter in this direction", "s", labels,
                   metrics::number(x, "jitter_ms", 1000)});
    out.push_back({"callready_media_max_burst_packets", "longest run of consecutive losses in this direction", "",
                   labels, metrics::number(x, "max_burst")});
    out.push_back({"callready_media_one_way_delay_seconds",
                   "median one-way delay (NaN unless both clocks are synchronised)", "s", labels,
                   metrics::number(x, "one_way_delay_ms", 1000)});
  }
  return out;
}

}  // namespace callready::checks
