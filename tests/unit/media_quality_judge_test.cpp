// media_quality: the E-model on published and hand-computed vectors, RFC 3611
// burst/gap and RFC 3550 jitter on hand-built series, the per-direction
// attribution of hand-built stream logs, every finding code, the contract's
// details keys, the params and the view.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "checks/media_quality/media_quality_check.hpp"

using namespace callready;
using namespace callready::checks;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000;

// A stream of n G.711 packets: `up_lost(s)` never reach the responder,
// `down_lost(s)` reach it but their reply does not come back; the path adds
// `up_us(s)` / `down_us(s)` of one-way delay. Clocks synchronised, equal.
template <class UpLost, class DownLost, class UpUs, class DownUs>
StreamLog stream(int n, UpLost up_lost, DownLost down_lost, UpUs up_us, DownUs down_us) {
  StreamLog log;
  log.interval_us = 20000;
  log.local_clock.known = log.local_clock.synchronised = true;
  log.responder_clock_known = log.responder_clock_synchronised = true;
  std::vector<std::pair<std::int64_t, std::uint32_t>> arrivals;
  for (int s = 0; s < n; ++s) {
    StreamPacket p;
    p.sent_us = kT0 + s * 20000;
    if (up_lost(s)) {
      p.reached_responder = false;
    } else {
      ++log.responder_received;
      p.reached_responder = true;
      if (!down_lost(s)) {
        p.received_us = p.sent_us + up_us(s);
        p.reflected_us = *p.received_us + 50;
        p.arrived_us = *p.reflected_us + down_us(s);
        p.replies = 1;
        arrivals.emplace_back(*p.arrived_us, static_cast<std::uint32_t>(s));
      }
    }
    log.packets.push_back(p);
  }
  std::sort(arrivals.begin(), arrivals.end());
  for (auto& [at, s] : arrivals) log.reply_order.push_back(s);
  return log;
}

auto never = [](int) { return false; };
auto fixed(std::int64_t us) {
  return [us](int) { return us; };
}

MediaCodec g711() { return *media_codec("g711"); }

MediaQualityParams params() {
  MediaQualityParams p;
  p.host = "203.0.113.10";
  p.port = 5004;
  p.codec = g711();
  return p;
}

MediaQualityResult analysed(const StreamLog& log) {
  auto r = analyse_stream(log, g711());
  r.host = "203.0.113.10";
  r.port = 5004;
  r.source_port = 8500;
  r.duration_s = 10;
  r.dscp = 46;
  return r;
}

bool has(const Judgement& j, const std::string& code, Severity severity) {
  return std::any_of(j.findings.begin(), j.findings.end(),
                     [&](const Finding& f) { return f.code == code && f.severity == severity; });
}

}  // namespace

TEST_CASE("E-model: G.711, no loss, no delay, no jitter gives R 93.2 and MOS 4.41") {
  auto m = e_model(0, 25.1, 0, 1, 0);
  CHECK(m.r == doctest::Approx(93.2));
  CHECK(m.id == 0);
  CHECK(m.ie_eff == 0);
  CHECK(std::round(m.mos * 100) / 100 == doctest::Approx(4.41));
}

TEST_CASE("E-model: the G.107 R-to-MOS mapping at its published anchor points") {
  // G.107 Annex B: R 100 -> 4.5 (saturated), R 80 -> 4.02, R 70 -> 3.6, R 60 -> 3.1, R 50 -> 2.58.
  CHECK(mos_of_r(100) == doctest::Approx(4.5));
  CHECK(mos_of_r(80) == doctest::Approx(4.024).epsilon(0.001));
  CHECK(mos_of_r(70) == doctest::Approx(3.6).epsilon(0.002));
  CHECK(mos_of_r(60) == doctest::Approx(3.1));
  CHECK(mos_of_r(50) == doctest::Approx(2.575));
  CHECK(mos_of_r(-5) == 1);
  CHECK(mos_of_r(120) == 4.5);
}

TEST_CASE("E-model: hand-computed loss, burstiness and delay") {
  // 2% random loss, G.711 with PLC: Ie_eff = 95 * 2 / (2 + 25.1) = 7.011.
  auto m = e_model(0, 25.1, 2, 1, 0);
  CHECK(m.ie_eff == doctest::Approx(7.011).epsilon(0.0005));
  CHECK(m.r == doctest::Approx(86.189).epsilon(0.0005));
  // The same loss in bursts (BurstR 2): Ie_eff = 95 * 2 / (1 + 25.1) = 7.280.
  CHECK(e_model(0, 25.1, 2, 2, 0).ie_eff == doctest::Approx(7.280).epsilon(0.0005));
  // Delay: Id = 0.024 * 150 = 3.6 below 177.3 ms; 0.024 * 250 + 0.11 * 72.7 = 13.997 above.
  CHECK(e_model(0, 25.1, 0, 1, 150).id == doctest::Approx(3.6));
  CHECK(e_model(0, 25.1, 0, 1, 250).id == doctest::Approx(13.997));
}

TEST_CASE("BurstR: 1 for no loss, below 1 for periodic loss, above 1 for bursts") {
  std::vector<bool> none(100, false);
  CHECK(burst_ratio(none) == 1);
  std::vector<bool> periodic(100, false), bursty(100, false);
  for (int i = 19; i < 100; i += 20) periodic[static_cast<std::size_t>(i)] = true;
  for (int i = 40; i < 45; ++i) bursty[static_cast<std::size_t>(i)] = true;
  CHECK(burst_ratio(periodic) < 1);
  // p = 1/94 (one received->lost among 94 transitions from received), q = 1/5.
  CHECK(burst_ratio(bursty) == doctest::Approx(1 / (1.0 / 94 + 0.2)));
}

TEST_CASE("RFC 3611 burst and gap with Gmin 16") {
  std::vector<bool> periodic(400, false);
  for (int i = 19; i < 400; i += 20) periodic[static_cast<std::size_t>(i)] = true;  // 19 received between
  auto bg = burst_gap(periodic);
  CHECK(bg.burst_packets == 0);
  CHECK(bg.gap_density == doctest::Approx(5.0));
  CHECK(bg.max_burst == 1);
  // Two losses 10 packets apart and a run of 5: both are bursts.
  std::vector<bool> clustered(200, false);
  clustered[50] = clustered[61] = true;
  for (int i = 120; i < 125; ++i) clustered[static_cast<std::size_t>(i)] = true;
  bg = burst_gap(clustered);
  CHECK(bg.burst_packets == 12 + 5);
  CHECK(bg.burst_density == doctest::Approx(100.0 * 7 / 17));
  CHECK(bg.gap_density == 0);
  CHECK(bg.max_burst == 5);
}

TEST_CASE("RFC 3550 jitter: constant transit gives 0, alternating 10 ms converges toward 10 ms") {
  CHECK(interarrival_jitter_us({5000, 5000, 5000}) == 0);
  std::vector<std::int64_t> alternating;
  for (int i = 0; i < 400; ++i) alternating.push_back(i % 2 ? 10000 : 0);
  CHECK(interarrival_jitter_us(alternating) == doctest::Approx(10000).epsilon(0.001));
  // One step of 16 ms from 0: J = 16000 / 16 = 1000.
  CHECK(interarrival_jitter_us({0, 16000}) == doctest::Approx(1000));
}

TEST_CASE("a clean stream: no loss, 0 jitter, MOS of the round trip alone, and a passing verdict") {
  auto r = analysed(stream(500, never, never, fixed(10000), fixed(10000)));
  CHECK(r.upstream.loss_pct == 0);
  CHECK(r.downstream.loss_pct == 0);
  CHECK(r.upstream.jitter_ms == 0);
  CHECK(r.upstream.one_way_delay_ms == std::optional<double>(10));
  CHECK(r.rtt_median_ms == doctest::Approx(20));
  CHECK(r.clock_offset_ms == std::optional<double>(0));
  // d = 10 ms: Id 0.24, R 92.96.
  REQUIRE(r.r_factor);
  REQUIRE(r.mos);
  CHECK(*r.r_factor == doctest::Approx(92.96));
  CHECK(*r.mos >= 4.3);
  auto j = judge_media_quality(r, params());
  CHECK(j.findings.empty());
  CHECK(j.summary.find("MOS") != std::string::npos);
}

TEST_CASE("every 20th packet lost upstream: 5.0% up, 0% down, isolated, a critical loss naming the uplink") {
  auto r = analysed(stream(
      500, [](int s) { return s % 20 == 19; }, never, fixed(5000), fixed(5000)));
  CHECK(r.upstream.sent == 500);
  CHECK(r.upstream.received == 475);
  CHECK(r.upstream.loss_pct == doctest::Approx(5.0));
  CHECK(r.downstream.sent == 475);
  CHECK(r.downstream.loss_pct == 0);
  CHECK(r.upstream.bursts.max_burst == 1);
  CHECK(r.upstream.worst_200ms_loss_pct == doctest::Approx(10));  // 10 packets hold at most one loss
  auto j = judge_media_quality(r, params());
  REQUIRE(has(j, "media_quality.loss", Severity::critical));
  auto it = std::find_if(j.findings.begin(), j.findings.end(),
                         [](const Finding& f) { return f.code == "media_quality.loss"; });
  CHECK(it->message.find("uplink") != std::string::npos);
  CHECK(it->message.find("isolated") != std::string::npos);
  CHECK(std::count_if(j.findings.begin(), j.findings.end(),
                      [](const Finding& f) { return f.code == "media_quality.loss"; }) == 1);
}

TEST_CASE("bursts of 5 lost downstream are attributed downstream with burst length 5") {
  auto burst = [](int s) { return s % 100 >= 50 && s % 100 < 55; };
  auto r = analysed(stream(500, never, burst, fixed(5000), fixed(5000)));
  CHECK(r.upstream.loss_pct == 0);
  CHECK(r.downstream.loss_pct == doctest::Approx(5.0));
  CHECK(r.downstream.bursts.max_burst == 5);
  CHECK(r.downstream.bursts.burst_density == doctest::Approx(100));
  CHECK(r.downstream.burst_r > 1);
  REQUIRE(r.downstream.e_model);
  CHECK(r.downstream.e_model->burst_r == r.downstream.burst_r);
  auto j = judge_media_quality(r, params());
  auto it = std::find_if(j.findings.begin(), j.findings.end(),
                         [](const Finding& f) { return f.code == "media_quality.loss"; });
  REQUIRE(it != j.findings.end());
  CHECK(it->message.find("downlink") != std::string::npos);
  CHECK(it->message.find("bursts of up to 5") != std::string::npos);
  bool mos_low = has(j, "media_quality.mos", Severity::warning) || has(j, "media_quality.mos", Severity::critical);
  CHECK(mos_low);
}

TEST_CASE("unknown sequences (a long run of lost replies) are shared out by the responder's final count") {
  auto log = stream(
      300, never, [](int s) { return s >= 100 && s < 200; }, fixed(5000), fixed(5000));
  for (int s = 100; s < 200; ++s) log.packets[static_cast<std::size_t>(s)].reached_responder.reset();
  // The responder saw 280 of the 300: 20 of the 100 unknown were lost upstream.
  log.responder_received = 280 + 3;
  log.tail_received = 3;
  auto r = analysed(log);
  CHECK(r.upstream.received == 280);
  CHECK(r.downstream.sent == 280);
  CHECK(r.downstream.received == 200);
}

TEST_CASE("jitter upstream only, reordering and duplicates") {
  // Upstream transit alternates 0 / 8 ms: packets stay in order (20 ms apart).
  auto log = stream(
      200, never, never, [](int s) { return s % 2 ? 48000 : 40000; }, fixed(1000));
  log.packets[10].replies = 2;  // a reply came twice, the request once: downstream duplicate
  auto r = analysed(log);
  CHECK(r.upstream.jitter_ms == doctest::Approx(8).epsilon(0.01));
  CHECK(r.downstream.jitter_ms == 0);
  CHECK(r.upstream.ipdv_ms.p50 == doctest::Approx(8));
  CHECK(r.downstream.duplicates == 1);
  CHECK(r.upstream.duplicates == 0);
  // Upstream transit of 30 ms for one packet: it arrives after the next one.
  auto reordered = stream(
      50, never, never, [](int s) { return s == 20 ? 30000 : 1000; }, fixed(1000));
  CHECK(analysed(reordered).upstream.reordered == 1);
}

TEST_CASE("jitter, delay and a low MOS produce their findings") {
  auto p = params();
  auto jittery = analysed(stream(
      300, never, never, [](int s) { return s % 2 ? 100000 : 20000; }, fixed(1000)));
  auto j = judge_media_quality(jittery, p);
  CHECK(has(j, "media_quality.jitter", Severity::warning));
  auto slow = analysed(stream(300, never, never, fixed(200000), fixed(1000)));
  j = judge_media_quality(slow, p);
  CHECK(has(j, "media_quality.delay", Severity::warning));
  // 10% random-ish loss both ways: critical loss named twice and a failing MOS.
  auto lossy = analysed(stream(
      1000, [](int s) { return (s * 7) % 10 == 3; }, [](int s) { return (s * 3) % 10 == 1; }, fixed(1000),
      fixed(1000)));
  j = judge_media_quality(lossy, p);
  CHECK(std::count_if(j.findings.begin(), j.findings.end(),
                      [](const Finding& f) { return f.code == "media_quality.loss"; }) == 2);
  CHECK(has(j, "media_quality.mos", Severity::critical));
}

TEST_CASE("unsynchronised clocks: no one-way delay, the RTT bound instead, and an info finding") {
  auto log = stream(100, never, never, fixed(200000), fixed(200000));
  log.responder_clock_synchronised = false;
  auto r = analysed(log);
  CHECK_FALSE(r.upstream.one_way_delay_ms);
  CHECK_FALSE(r.clock_synchronised);
  CHECK(r.clock_note == "the responder's clock is not synchronised");
  auto j = judge_media_quality(r, params());
  CHECK(has(j, "media_quality.clock_unsynchronised", Severity::info));
  CHECK(has(j, "media_quality.delay", Severity::warning));  // RTT 400 ms > 300
}

TEST_CASE("no reply at all, and replies that stop mid-stream") {
  auto silent = analysed(stream(
      100, [](int) { return true; }, never, fixed(0), fixed(0)));
  auto j = judge_media_quality(silent, params());
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "media_quality.no_reply");
  CHECK(j.findings[0].operation == Operation::receive);
  auto died = analysed(stream(
      500, [](int s) { return s >= 300; }, never, fixed(1000), fixed(1000)));
  CHECK(died.interrupted_at == std::optional<int>(300));
  CHECK(has(judge_media_quality(died, params()), "media_quality.interrupted", Severity::critical));
  died.icmp = "port unreachable from 198.51.100.7";
  auto named = judge_media_quality(died, params());
  CHECK(has(named, "media_quality.interrupted", Severity::critical));
  CHECK(!has(named, "media_quality.rejected", Severity::critical));
}

TEST_CASE("an ICMP error before any reply is a refused stream, not silence") {
  auto refused = analysed(stream(
      3, [](int) { return true; }, never, fixed(0), fixed(0)));
  refused.icmp = "port unreachable from 198.51.100.7";
  auto j = judge_media_quality(refused, params());
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "media_quality.rejected");
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::receive);
  CHECK(j.summary.find("port unreachable from 198.51.100.7") != std::string::npos);
  json d;
  to_json(d, refused);
  CHECK(d["icmp"] == "port unreachable from 198.51.100.7");
}

TEST_CASE("an unresolved host is the shared no_address finding") {
  MediaQualityResult r;
  r.host = "media.invalid";
  r.unresolved = TargetAddresses{"media.invalid", {}, net::DnsFailure::nxdomain, "NXDOMAIN"};
  auto j = judge_media_quality(r, params());
  REQUIRE(!j.findings.empty());
  CHECK(j.findings[0].code == "media_quality.no_address");
}

TEST_CASE("details carry exactly the contract's keys, and the view draws them") {
  auto r = analysed(stream(
      500, [](int s) { return s % 20 == 19; }, never, fixed(5000), fixed(5000)));
  nlohmann::json j = r;
  for (const char* key : {"codec", "duration_s", "upstream", "downstream", "rtt_ms", "clock", "r_factor", "mos"})
    CHECK_MESSAGE(j.contains(key), key);
  for (const char* dir : {"upstream", "downstream"})
    for (const char* key : {"sent", "received", "loss_pct", "max_burst", "burst_density", "gap_density", "jitter_ms",
                            "ipdv_ms", "reordered", "duplicates", "one_way_delay_ms"})
      CHECK_MESSAGE(j[dir].contains(key), dir, ".", key);
  for (const char* key : {"p50", "p95", "p99"}) CHECK(j["upstream"]["ipdv_ms"].contains(key));
  for (const char* key : {"min", "median", "p95", "p99", "max"}) CHECK(j["rtt_ms"].contains(key));
  CHECK(j["clock"].contains("synchronised"));
  CHECK(j["clock"].contains("offset_ms"));
  CHECK(j["upstream"]["loss_pct"] == 5.0);
  CHECK(j["timeline"]["loss"].get<std::string>().find('u') != std::string::npos);
  auto v = media_quality_view(j);
  CHECK(v.blocks.size() == 4);
  CHECK(std::holds_alternative<view::Bar>(v.blocks[0]));
  CHECK(std::holds_alternative<view::Series>(v.blocks[3]));
  auto samples = media_quality_metrics(j);
  auto loss = std::find_if(samples.begin(), samples.end(), [](const metrics::Sample& s) {
    return s.name == "callready_media_loss_ratio" && s.labels.at("direction") == "upstream";
  });
  REQUIRE(loss != samples.end());
  CHECK(loss->value == doctest::Approx(0.05));
  CHECK(media_quality_view(nlohmann::json::object()).blocks.empty());
}

TEST_CASE("params: codecs, DSCP defaults per codec, thresholds and bad values") {
  auto parse = [](nlohmann::json j) {
    ParamReader r(j);
    auto p = MediaQualityParams::parse(r);
    r.finish();
    return std::make_pair(p, r.errors());
  };
  auto [audio, e1] = parse({{"host", "203.0.113.10"}, {"source_port", 8500}});
  CHECK(e1.empty());
  CHECK(audio.dscp == 46);
  CHECK(audio.codec.datagram == 172);
  CHECK(audio.codec.interval_us == 20000);
  CHECK(audio.duration_s == 10);
  REQUIRE(audio.source_ports);
  CHECK(audio.source_ports->first == 8500);
  CHECK(audio.source_ports->last == 8500);
  auto [ranged, e3] = parse({{"host", "h"}, {"source_port", "8500-8599"}});
  CHECK(e3.empty());
  REQUIRE(ranged.source_ports);
  CHECK(ranged.source_ports->last == 8599);
  CHECK(!parse({{"host", "h"}, {"source_port", "8599-8500"}}).second.empty());
  CHECK(!parse({{"host", "h"}, {"source_port", 70000}}).second.empty());
  auto [video, e2] = parse({{"host", "h"}, {"codec", "video"}, {"max_loss_pct", "0.5"}});
  CHECK(e2.empty());
  CHECK(video.dscp == 34);
  CHECK(video.max_loss_pct == 0.5);
  // 1,100 bytes * 8 bits every 5,867 us: 1.5 Mbit/s.
  CHECK(1100.0 * 8 / (video.codec.interval_us / 1e6) == doctest::Approx(1.5e6).epsilon(0.001));
  CHECK(media_codec("opus")->datagram == 124);
  CHECK(!parse({{"host", "h"}, {"codec", "amr"}}).second.empty());
  CHECK(!parse({{"host", "h"}, {"dscp", "XX"}}).second.empty());
  CHECK(!parse({{"host", "h"}, {"duration_s", 0}}).second.empty());
  CHECK(!parse({{"host", "h"}, {"mos_fail", 4.2}}).second.empty());
  CHECK(parse({{"host", "h"}, {"dscp", "ef"}}).first.dscp == 46);
}

TEST_CASE("each codec's score: G.711 by its published Ie/Bpl, opus and video without a MOS") {
  // G.711 with PLC: ITU-T G.113 Appendix I, Ie 0, Bpl 25.1.
  auto g = media_codec("g711");
  REQUIRE(g);
  REQUIRE(g->impairment);
  CHECK(g->impairment->ie == 0);
  CHECK(g->impairment->bpl == doctest::Approx(25.1));
  CHECK(g->no_mos_reason.empty());
  auto lossy_log = stream(
      500, [](int s) { return s % 50 == 7; }, never, fixed(5000), fixed(5000));
  // Opus and video: no published Ie/Bpl, so no R, no MOS, no e_model, and a note saying why.
  for (const char* name : {"opus", "video"}) {
    CAPTURE(name);
    auto codec = media_codec(name);
    REQUIRE(codec);
    CHECK_FALSE(codec->impairment);
    CHECK_FALSE(codec->no_mos_reason.empty());
    auto r = analyse_stream(lossy_log, *codec);
    CHECK_FALSE(r.mos);
    CHECK_FALSE(r.r_factor);
    CHECK_FALSE(r.upstream.e_model);
    CHECK_FALSE(r.downstream.e_model);
    CHECK(r.upstream.loss_pct == doctest::Approx(2.0));
    CHECK(r.upstream.burst_r == doctest::Approx(1.0).epsilon(0.05));
    CHECK(r.mos_note == codec->no_mos_reason);
    nlohmann::json j = r;
    CHECK(j["mos"].is_null());
    CHECK(j["r_factor"].is_null());
    CHECK(j["upstream"]["e_model"].is_null());
    CHECK(j["mos_note"] == codec->no_mos_reason);
    CHECK(j["upstream"]["burst_r"].is_number());
    // Judged by the thresholds alone: 2% loss up is a critical loss finding, never a MOS finding.
    auto p = params();
    p.codec = *codec;
    auto verdict = judge_media_quality(r, p);
    CHECK(has(verdict, "media_quality.loss", Severity::critical));
    CHECK(std::none_of(verdict.findings.begin(), verdict.findings.end(),
                       [](const Finding& f) { return f.code == "media_quality.mos"; }));
    CHECK(verdict.summary.find("no MOS for") != std::string::npos);
    // A clean stream of this codec passes without a score.
    auto clean = analyse_stream(stream(100, never, never, fixed(5000), fixed(5000)), *codec);
    auto fine = judge_media_quality(clean, p);
    CHECK(std::none_of(fine.findings.begin(), fine.findings.end(),
                       [](const Finding& f) { return f.severity != Severity::info; }));
    // The view says why there is no score; the metrics say NaN.
    auto v = media_quality_view(j);
    const auto* bar = std::get_if<view::Bar>(&v.blocks[0]);
    REQUIRE(bar != nullptr);
    CHECK_FALSE(bar->value);
    CHECK(bar->note == codec->no_mos_reason);
    auto samples = media_quality_metrics(j);
    auto mos = std::find_if(samples.begin(), samples.end(),
                            [](const metrics::Sample& s) { return s.name == "callready_media_mos"; });
    REQUIRE(mos != samples.end());
    CHECK(std::isnan(mos->value));
  }
  // The same lossy stream as G.711 is scored, with the inputs in the details.
  auto scored = analyse_stream(lossy_log, *g);
  REQUIRE(scored.mos);
  nlohmann::json j = scored;
  CHECK(j["mos"].is_number());
  CHECK(j["upstream"]["e_model"]["bpl"] == 25.1);
  CHECK_FALSE(j.contains("mos_note"));
}
