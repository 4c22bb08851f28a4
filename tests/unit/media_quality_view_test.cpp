// media_quality's timeline: the per-packet RTT series the analysis keeps
// (every packet up to 500, else each bucket's highest RTT), the view's
// Series block built from the details, and its inline SVG (the generic
// svg::series): one polyline point per packet with an RTT, a loss mark per
// lost packet on its direction's lane, hostile text escaped, valid HTML.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "checks/media_quality/media_quality_check.hpp"
#include "probe/registry.hpp"
#include "reports/html_details.hpp"
#include "reports/html_report.hpp"
#include "reports/svg.hpp"
#include "tests/support/process.hpp"

using namespace callready;
using namespace callready::checks;
namespace t = callready::test;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000;

// n G.711 packets 20 ms apart; `up_lost` never reach the responder,
// `down_lost` reach it and their reply is lost; the rest take rtt_us(s).
template <class UpLost, class DownLost, class Rtt>
StreamLog stream(int n, UpLost up_lost, DownLost down_lost, Rtt rtt_us) {
  StreamLog log;
  for (int s = 0; s < n; ++s) {
    StreamPacket p;
    p.sent_us = kT0 + s * 20000;
    p.reached_responder = !up_lost(s);
    if (!up_lost(s)) {
      ++log.responder_received;
      if (!down_lost(s)) {
        p.received_us = p.sent_us + rtt_us(s) / 2;
        p.reflected_us = *p.received_us + 40;
        p.arrived_us = *p.reflected_us + rtt_us(s) / 2;
        p.replies = 1;
        log.reply_order.push_back(static_cast<std::uint32_t>(s));
      }
    }
    log.packets.push_back(p);
  }
  return log;
}

nlohmann::json details_of(const StreamLog& log, int duration_s) {
  auto r = analyse_stream(log, *media_codec("g711"));
  r.host = "203.0.113.10";
  r.port = 5004;
  r.duration_s = duration_s;
  return r;
}

auto never = [](int) { return false; };

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The coordinates of every polyline, one entry per polyline.
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg) {
  std::vector<std::vector<std::pair<double, double>>> out;
  std::regex line(R"re(<polyline class="series" points="([^"]*)")re"), point(R"(([-0-9.]+),([-0-9.]+))");
  for (std::sregex_iterator it(svg.begin(), svg.end(), line), end; it != end; ++it) {
    out.emplace_back();
    std::string pts = (*it)[1];
    for (std::sregex_iterator p(pts.begin(), pts.end(), point); p != end; ++p)
      out.back().emplace_back(std::stod((*p)[1]), std::stod((*p)[2]));
  }
  return out;
}

const view::Series* series_of(const view::View& v) {
  for (const auto& b : v.blocks)
    if (const auto* s = std::get_if<view::Series>(&b)) return s;
  return nullptr;
}

}  // namespace

TEST_CASE("the timeline keeps every packet's RTT, and its loss per direction") {
  // 500 packets: every 20th lost upstream, packets 100-104 lost downstream.
  auto j = details_of(stream(
                          500, [](int s) { return s % 20 == 19; }, [](int s) { return s >= 100 && s <= 104; },
                          [](int s) { return s == 250 ? 90000 : 10000; }),
                      10);
  const auto& rtt = j["timeline"]["rtt_ms"];
  const std::string loss = j["timeline"]["loss"];
  REQUIRE(rtt.size() == 500);
  REQUIRE(loss.size() == 500);
  CHECK(count(loss, "u") == 25);
  CHECK(count(loss, "d") == 5);
  CHECK(loss.substr(100, 5) == "ddddd");
  CHECK(loss[19] == 'u');
  CHECK(rtt[19].is_null());
  CHECK(rtt[0].get<double>() == doctest::Approx(10.0));
  CHECK(rtt[250].get<double>() == doctest::Approx(90.0));

  auto v = media_quality_view(j);
  const auto* s = series_of(v);
  REQUIRE(s != nullptr);
  CHECK(s->points.size() == 500);
  CHECK(s->x_max == 10);
  CHECK(s->points[250].x == doctest::Approx(5.0));
  REQUIRE(s->lanes.size() == 2);
  CHECK(s->lanes[0].x.size() == 25);
  CHECK(s->lanes[0].x[0] == doctest::Approx(0.38));  // packet 19 of 50 per second
  CHECK(s->lanes[1].x.size() == 5);
  CHECK(s->lanes[1].x[0] == doctest::Approx(2.0));  // packet 100
  REQUIRE(s->lines.size() == 1);
  CHECK(s->lines[0].value == doctest::Approx(10.0));

  std::string svg = svg::series(*s);
  auto lines = polylines(svg);
  // A line breaks at every packet without an RTT: 25 upstream losses (the
  // last is the final packet) and one downstream run of 5 split it into 25 runs.
  CHECK(lines.size() == 25);
  std::size_t drawn = 0;
  double top = 1e9;
  for (const auto& l : lines) {
    drawn += l.size();
    for (const auto& [x, y] : l) top = std::min(top, y);
  }
  CHECK(drawn == 500 - 25 - 5);
  CHECK(count(svg, R"(class="mark t-bad")") == 30);
  // The spike is the highest point of the line (smallest SVG y), at 5 s.
  bool spike_seen = false;
  for (const auto& l : lines)
    for (const auto& [x, y] : l)
      if (y == top) spike_seen = std::abs(x - (116 + 0.5 * 514)) < 1;
  CHECK(spike_seen);
  // Marks sit on their lane: upstream's at y 167, downstream's at y 185;
  // packet 19 at 0.38 s of 10 s across the 514 px plot from x 116.
  CHECK(svg.find(R"(class="mark t-bad" x="134.5" y="167.0")") != std::string::npos);
  CHECK(svg.find(R"(class="mark t-bad" x="217.8" y="185.0")") != std::string::npos);
  CHECK(svg.find("upstream loss") != std::string::npos);
  CHECK(svg.find("median 10 ms") != std::string::npos);
}

TEST_CASE("a long stream keeps at most 500 points, each its bucket's highest RTT") {
  // 1,501 packets: buckets of 4, so 376 points; one 120 ms spike at packet 1,001.
  auto j = details_of(stream(
                          1501, [](int s) { return s == 7; }, [](int s) { return s == 1402; },
                          [](int s) { return s == 1001 ? 120000 : 8000; }),
                      30);
  const auto& rtt = j["timeline"]["rtt_ms"];
  const std::string loss = j["timeline"]["loss"];
  CHECK(rtt.size() == 376);
  CHECK(rtt[250].get<double>() == doctest::Approx(120.0));  // packets 1000-1003
  CHECK(rtt[1].get<double>() == doctest::Approx(8.0));      // packets 4-7: 7 lost, the rest kept
  CHECK(loss[1] == 'u');
  CHECK(loss[350] == 'd');  // packets 1400-1403
  // A bucket with losses both ways marks both lanes.
  auto both =
      details_of(stream(
                     2000, [](int s) { return s == 8; }, [](int s) { return s == 9; }, [](int) { return 8000; }),
                 40);
  CHECK(both["timeline"]["rtt_ms"].size() == 500);
  CHECK(both["timeline"]["loss"].get<std::string>()[2] == 'b');
  auto v = media_quality_view(both);
  const auto* s = series_of(v);
  REQUIRE(s != nullptr);
  CHECK(s->lanes[0].x.size() == 1);
  CHECK(s->lanes[1].x.size() == 1);
  CHECK(s->lanes[0].x[0] == doctest::Approx(0.16));  // bucket 2 = packets 8-11, 4 per point
  // The analysis never keeps more than 500 points.
  auto longest = details_of(stream(60 * 170, never, never, [](int) { return 1000; }), 60);
  CHECK(longest["timeline"]["rtt_ms"].size() <= kTimelinePoints);
}

TEST_CASE("the series picture: scale, gaps, nothing measured, hostile text") {
  view::Series s;
  s.caption = s.y_label = s.y_unit = s.x_unit = "<b>\"x\"</b>";
  s.points = {{0, 1.0}, {1, 3.0}, {2, std::nullopt}, {3, 2.0}, {4, std::numeric_limits<double>::quiet_NaN()}};
  s.lanes = {{"<lane>", {2, 2, 4}, view::Tone::warn}};
  s.lines = {{2.5, "<limit>", view::Tone::bad}};
  auto svg = svg::series(s);
  CHECK(count(svg, "<svg ") == 1);
  CHECK(svg.find("<b>") == std::string::npos);
  CHECK(svg.find("&lt;lane&gt;") != std::string::npos);
  CHECK(svg.find("&lt;limit&gt;") != std::string::npos);
  auto lines = polylines(svg);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() == 2);
  CHECK(lines[1].size() == 1);
  // Two marks at the same x are drawn once; the warn tone is kept.
  CHECK(count(svg, R"(class="mark t-warn")") == 2);
  // The y scale reaches a round 5 above the highest value (3): 3 is at 60% of the 150 px plot.
  CHECK(lines[0][1].second == doctest::Approx(10 + 150 - 0.6 * 150));
  auto empty = svg::series({});
  CHECK(empty.find("Nothing measured.") != std::string::npos);
  CHECK(polylines(empty).empty());
}

TEST_CASE("a media_quality check renders as valid HTML with the timeline") {
  auto details = details_of(stream(
                                200, [](int s) { return s % 50 == 3; }, never, [](int) { return 20000; }),
                            4);
  Report r;
  r.profile.name = "media";
  CheckRecord c;
  c.id = "audio";
  c.kind = "media_quality";
  c.category = "media";
  c.status = Status::pass;
  c.details = details;
  r.checks = {c};
  std::string html = render_html(r, &check_view);
  t::TempDir dir;
  dir.write("report.html", html);
  auto parsed = t::run({"/usr/bin/python3", std::string(CALLREADY_SOURCE_DIR) + "/tests/unit/html_report_validate.py",
                        dir.file("report.html")});
  REQUIRE_MESSAGE(parsed.exit_code == 0, parsed.err);
  auto j = nlohmann::json::parse(parsed.out);
  CHECK_MESSAGE(j["errors"].empty(), j["errors"].dump(1));
  CHECK(j["counts"].value("svg:polyline", 0) == 5);  // 4 upstream losses break the line
  CHECK(j["counts"].value("svg:svg", 0) == 2);       // the MOS bar and the timeline
  CHECK(count(html, R"(class="mark t-bad")") == 4);
  auto detail = html::detail_view(c, check_view(c));
  CHECK(detail.pictures.size() == 2);
}
