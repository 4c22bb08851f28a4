// media_quality's picture and samples, from the details alone: a table per
// direction, the E-model inputs, the MOS on its scale, and a timeline (a
// matrix of time slices: loss per direction, RTT spikes).
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

// Up to 30 time slices: a loss mark per direction, and an RTT spike (over
// twice the median and 10 ms above it: loopback's tenths of a millisecond
// are no spike).
view::Matrix timeline(const nlohmann::json& d) {
  view::Matrix m;
  m.caption = "Timeline (left to right: the stream; red: loss in that direction, or an RTT spike)";
  m.legend_good = "clean";
  m.legend_bad = "loss / RTT spike";
  m.legend_plain = "no data";
  const auto& tl = object_at(d, "timeline");
  auto rtt = tl.find("rtt_ms");
  auto loss = tl.find("loss");
  if (rtt == tl.end() || !rtt->is_array() || loss == tl.end() || !loss->is_string() || rtt->empty()) return m;
  std::string marks = loss->get<std::string>();
  std::size_t points = rtt->size(), slices = std::min<std::size_t>(30, points);
  double median = 0;
  if (auto r = object_at(d, "rtt_ms").find("median"); r != object_at(d, "rtt_ms").end() && r->is_number())
    median = r->get<double>();
  double duration = d.value("duration_s", 0.0);
  view::Matrix::Row up{"upstream loss", {}}, down{"downstream loss", {}}, spikes{"RTT spike", {}};
  for (std::size_t s = 0; s < slices; ++s) {
    std::size_t a = s * points / slices, b = (s + 1) * points / slices;
    bool u = false, dn = false, spike = false, any = false;
    for (std::size_t k = a; k < b; ++k) {
      char c = k < marks.size() ? marks[k] : '.';
      u |= c == 'u';
      dn |= c == 'd';
      const auto& v = (*rtt)[k];
      if (v.is_number()) {
        any = true;
        spike |= v.get<double>() > std::max(2 * median, median + 10);
      }
    }
    bool labelled = duration > 0 && s % 5 == 0;  // every fifth slice: the strip stays readable
    m.columns.push_back(
        {labelled ? fmt::format("{:g}s", std::round(10 * duration * static_cast<double>(a) / points) / 10) : ""});
    up.cells.push_back(u ? view::Tone::bad : view::Tone::good);
    down.cells.push_back(dn ? view::Tone::bad : view::Tone::good);
    spikes.cells.push_back(!any ? view::Tone::muted : spike ? view::Tone::bad : view::Tone::good);
  }
  m.rows = {up, down, spikes};
  return m;
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
  mos.note = fmt::format("R {}", num(details, "r_factor"));
  v.blocks.push_back(std::move(mos));
  v.blocks.push_back(direction_table(details));
  v.blocks.push_back(round_trip_table(details));
  auto tl = timeline(details);
  if (!tl.rows.empty()) v.blocks.push_back(std::move(tl));
  v.shown_keys = {"upstream", "downstream", "rtt_ms", "clock", "r_factor",
                  "mos",      "timeline",   "codec",  "dscp",  "source_port"};
  return v;
}

metrics::Samples media_quality_metrics(const nlohmann::json& d) {
  metrics::Samples out;
  out.push_back({"callready_media_mos",
                 "MOS of the worse direction (ITU-T G.107 E-model)",
                 "",
                 {},
                 d.value("replies", 0) > 0 ? metrics::number(d, "mos") : metrics::not_measured});
  out.push_back({"callready_media_r_factor",
                 "E-model R factor of the worse direction",
                 "",
                 {},
                 d.value("replies", 0) > 0 ? metrics::number(d, "r_factor") : metrics::not_measured});
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
