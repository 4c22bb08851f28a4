// media_quality's verdicts and details, from the measured result alone.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "checks/media_quality/media_quality_check.hpp"

namespace callready::checks {

namespace {

nlohmann::json optional_number(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json e_model_json(const std::optional<EModel>& e) {
  if (!e) return nullptr;
  const auto& m = *e;
  return {{"ie", m.ie},
          {"bpl", m.bpl},
          {"ppl_pct", m.ppl_pct},
          {"burst_r", std::round(m.burst_r * 1000) / 1000},
          {"delay_ms", std::round(m.delay_ms * 1000) / 1000},
          {"id", std::round(m.id * 100) / 100},
          {"ie_eff", std::round(m.ie_eff * 100) / 100},
          {"r", std::round(m.r * 100) / 100},
          {"mos", std::round(m.mos * 100) / 100}};
}

nlohmann::json direction_json(const DirectionStats& d) {
  return {{"sent", d.sent},
          {"received", d.received},
          {"loss_pct", d.loss_pct},
          {"max_burst", d.bursts.max_burst},
          {"burst_density", d.bursts.burst_density},
          {"gap_density", d.bursts.gap_density},
          {"burst_r", std::round(d.burst_r * 1000) / 1000},
          {"jitter_ms", d.jitter_ms},
          {"ipdv_ms", {{"p50", d.ipdv_ms.p50}, {"p95", d.ipdv_ms.p95}, {"p99", d.ipdv_ms.p99}}},
          {"reordered", d.reordered},
          {"duplicates", d.duplicates},
          {"one_way_delay_ms", optional_number(d.one_way_delay_ms)},
          {"worst_200ms_loss_pct", d.worst_200ms_loss_pct},
          {"worst_5s_loss_pct", d.worst_5s_loss_pct},
          {"worst_5s_jitter_ms", d.worst_5s_jitter_ms},
          {"e_model", e_model_json(d.e_model)}};
}

const char* direction_name(bool upstream) {
  return upstream ? "the uplink (client to responder)" : "the downlink (responder to client)";
}

const char* kLossFix =
    "Find where the packets are dropped on this direction: a congested uplink or access link needs more capacity "
    "or QoS that gives voice priority (EF queue); on Wi-Fi, move closer to the access point or use a wired "
    "connection; check for duplex mismatches and interface errors";
const char* kJitterFix =
    "Give voice its own priority queue (DSCP EF honoured end to end) so that bulk traffic does not delay it; "
    "avoid Wi-Fi power saving and congested links on this direction";
const char* kDelayFix =
    "Shorten the path (a closer media node, no VPN hairpin or tunnelled Internet breakout) and remove queues that "
    "hold voice behind bulk traffic";

void judge_direction(const DirectionStats& d, bool upstream, const MediaQualityParams& p, Judgement& j) {
  if (d.sent > 0 && d.loss_pct > p.max_loss_pct) {
    std::string how = d.bursts.max_burst > 1
                          ? fmt::format("in bursts of up to {} packets (burst density {:g}%, gap density {:g}%)",
                                        d.bursts.max_burst, d.bursts.burst_density, d.bursts.gap_density)
                          : std::string("as isolated packets");
    j.findings.push_back({Severity::critical, "media_quality.loss",
                          fmt::format("{} loses {:g}% of the packets ({} of {}) {}; the worst 200 ms lost {:g}% "
                                      "(allowed: {:g}%)",
                                      direction_name(upstream), d.loss_pct, d.sent - d.received, d.sent, how,
                                      d.worst_200ms_loss_pct, p.max_loss_pct),
                          kLossFix, ""});
  }
  if (d.received > 1 && d.jitter_ms > p.max_jitter_ms)
    j.findings.push_back({Severity::warning, "media_quality.jitter",
                          fmt::format("{} has {:g} ms of interarrival jitter (IPDV p95 {:g} ms; allowed: {:g} ms)",
                                      direction_name(upstream), d.jitter_ms, d.ipdv_ms.p95, p.max_jitter_ms),
                          kJitterFix, ""});
  if (d.one_way_delay_ms && *d.one_way_delay_ms > p.max_one_way_delay_ms)
    j.findings.push_back({Severity::warning, "media_quality.delay",
                          fmt::format("{} takes {:g} ms one way (allowed: {:g} ms)", direction_name(upstream),
                                      *d.one_way_delay_ms, p.max_one_way_delay_ms),
                          kDelayFix, ""});
}

// "MOS 3.52 (R 71.3): uplink loss 4.8%, BurstR 1.9, delay 30 ms -> Ie_eff 20.1, Id 0.7"
std::string mos_inputs(const EModel& m) {
  return fmt::format("loss {:g}%, BurstR {:.2f}, delay incl. jitter buffer {:.1f} ms: Ie_eff {:.1f}, Id {:.1f}",
                     m.ppl_pct, m.burst_r, m.delay_ms, m.ie_eff, m.id);
}

}  // namespace

void to_json(nlohmann::json& j, const MediaQualityResult& r) {
  j = {{"host", r.host},
       {"address", r.address},
       {"port", r.port},
       {"source_port", r.source_port},
       {"codec", r.codec},
       {"duration_s", r.duration_s},
       {"dscp", r.dscp},
       {"packets_sent", r.packets_sent},
       {"replies", r.replies},
       {"upstream", direction_json(r.upstream)},
       {"downstream", direction_json(r.downstream)},
       {"rtt_ms", r.rtt_measured ? nlohmann::json{{"min", r.rtt_min_ms},
                                                  {"median", r.rtt_median_ms},
                                                  {"p95", r.rtt_p95_ms},
                                                  {"p99", r.rtt_p99_ms},
                                                  {"max", r.rtt_max_ms}}
                                 : nlohmann::json()},
       {"clock", {{"synchronised", r.clock_synchronised}, {"offset_ms", optional_number(r.clock_offset_ms)}}},
       {"r_factor", optional_number(r.r_factor)},
       {"mos", optional_number(r.mos)},
       {"interrupted_at", r.interrupted_at ? nlohmann::json(*r.interrupted_at) : nlohmann::json()}};
  if (!r.clock_note.empty()) j["clock"]["note"] = r.clock_note;
  if (!r.mos_note.empty()) j["mos_note"] = r.mos_note;
  if (!r.icmp.empty()) j["icmp"] = r.icmp;
  nlohmann::json rtt = nlohmann::json::array();
  std::string loss;
  for (std::size_t i = 0; i < r.timeline_rtt_ms.size(); ++i) {
    rtt.push_back(optional_number(r.timeline_rtt_ms[i]));
    loss.push_back(i < r.timeline_loss.size() && r.timeline_loss[i] ? r.timeline_loss[i] : '.');
  }
  j["timeline"] = {{"rtt_ms", std::move(rtt)}, {"loss", std::move(loss)}};
}

Judgement judge_media_quality(const MediaQualityResult& r, const MediaQualityParams& p) {
  std::string target = fmt::format("{}:{}", r.host, r.port);
  if (r.unresolved) return unresolved_judgement("media_quality", *r.unresolved, "send a media stream to " + target);
  Judgement j;
  if (!r.icmp.empty() && r.replies == 0) {
    j.findings.push_back(
        {Severity::critical, "media_quality.rejected",
         fmt::format("the {} stream from source port {} to {} was refused at once ({}, after {} packets): nothing "
                     "listens on that port there, or a firewall rejects the stream",
                     r.codec, r.source_port, target, r.icmp, r.packets_sent),
         "Check that the responder serves this UDP port (callready respond --udp-ports) and that no firewall on the "
         "path rejects UDP from the media source ports to it",
         "", Operation::receive});
    j.summary = j.findings.back().message;
    return j;
  }
  if (r.replies == 0) {
    j.findings.push_back(
        {Severity::critical, "media_quality.no_reply",
         fmt::format("none of the {} packets of the {} stream from source port {} to {} came back: the stream is "
                     "blocked on the way, or the responder stopped",
                     r.packets_sent, r.codec, r.source_port, target),
         "Allow UDP from the media source ports to the media destination ports (and the replies back) on every "
         "firewall on the path",
         "", Operation::receive});
    j.summary = j.findings.back().message;
    return j;
  }
  if (r.interrupted_at)
    j.findings.push_back(
        {Severity::critical, "media_quality.interrupted",
         fmt::format("replies stopped after packet {} of {} and never resumed: the responder stopped or the path "
                     "broke mid-stream (the figures after that point are loss){}",
                     *r.interrupted_at, r.packets_sent, r.icmp.empty() ? "" : "; then " + r.icmp),
         "Check that the responder keeps running and that no firewall or NAT closes the flow mid-call", "",
         Operation::receive});
  judge_direction(r.upstream, true, p, j);
  judge_direction(r.downstream, false, p, j);
  if (!r.clock_synchronised) {
    if (r.rtt_measured && r.rtt_median_ms > p.max_rtt_ms)
      j.findings.push_back(
          {Severity::warning, "media_quality.delay",
           fmt::format("the round trip takes {:g} ms (median; allowed: {:g} ms)", r.rtt_median_ms, p.max_rtt_ms),
           kDelayFix, ""});
    j.findings.push_back({Severity::info, "media_quality.clock_unsynchronised",
                          fmt::format("one-way delay not reported: {} (offset estimate {})", r.clock_note,
                                      r.clock_offset_ms ? fmt::format("{:g} ms", *r.clock_offset_ms) : "unknown"),
                          "Synchronise both clocks with NTP to measure one-way delay", ""});
  }
  if (r.mos && r.r_factor && r.upstream.e_model && r.downstream.e_model) {
    bool up_worse = r.upstream.e_model->r <= r.downstream.e_model->r;
    const auto& worse = up_worse ? *r.upstream.e_model : *r.downstream.e_model;
    if (*r.mos < p.mos_pass)
      j.findings.push_back(
          {*r.mos < p.mos_fail ? Severity::critical : Severity::warning, "media_quality.mos",
           fmt::format("a {} call scores MOS {:g} (R {:g}) on {}: {} (pass at {:g}, fail below {:g})", r.codec, *r.mos,
                       *r.r_factor, direction_name(up_worse), mos_inputs(worse), p.mos_pass, p.mos_fail),
           up_worse ? kLossFix : kJitterFix, ""});
  }
  std::string score = r.mos && r.r_factor ? fmt::format("MOS {:g} (R {:g})", *r.mos, *r.r_factor)
                                          : fmt::format("no MOS for {}", r.codec);
  j.summary = fmt::format("{}; loss up {:g}% down {:g}%, jitter up {:g} ms down {:g} ms, RTT {}", score,
                          r.upstream.loss_pct, r.downstream.loss_pct, r.upstream.jitter_ms, r.downstream.jitter_ms,
                          r.rtt_measured ? fmt::format("{:g} ms", r.rtt_median_ms) : std::string("not measured"));
  return j;
}

}  // namespace callready::checks
