#pragma once
// `media_quality`: does audio (or video) survive the path to the responder
// and back? The client sends a paced, RTP-sized stream of echo v3 probes
// (checks/common/echo_probe.hpp) from a chosen source port with the codec's
// DSCP; the responder reflects each one with its receive and send times and
// its record of what arrived, so every lost packet is attributed to a
// direction. The analysis (pure, from the packet log) gives per direction
// loss, RFC 3611 burst/gap densities (Gmin 16), the longest burst, RFC 3550
// interarrival jitter, IPDV percentiles, reordering and duplicates, the worst
// 200 ms and 5 s windows, and an ITU-T G.107 E-model score (R, MOS).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/clock_state.hpp"
#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"

namespace callready::checks {

// A codec's E-model constants, as ITU-T G.113 publishes them for planning.
struct CodecImpairment {
  double ie = 0;      // equipment impairment factor Ie
  double bpl = 25.1;  // packet-loss robustness factor Bpl
};

// What a codec's stream looks like on the wire, and its E-model constants.
struct MediaCodec {
  std::string name;         // g711 | opus | video
  int interval_us = 20000;  // between two packets
  std::size_t datagram = 172;
  int dscp = 46;  // EF for audio, AF41 for video
  // nullopt: ITU-T publishes no Ie/Bpl for this codec, so no MOS is computed
  // (a made-up constant would be a made-up score); loss, jitter and delay
  // against their thresholds judge the stream alone.
  std::optional<CodecImpairment> impairment;
  std::string no_mos_reason;  // when impairment is nullopt: why, for the details
};
// g711 (20 ms, 172 B, 50 pps), opus (20 ms, 124 B: the v3 minimum), video
// (1,100 B at 1.5 Mbit/s: 5,866 us); nullopt for another name.
std::optional<MediaCodec> media_codec(const std::string& name);

struct MediaQualityParams {
  std::string host;
  std::uint16_t port = 5004;
  // A port or a range "A-B" (the first free one is used); nullopt: ephemeral.
  std::optional<net::PortRange> source_ports;
  MediaCodec codec;
  int duration_s = 10;
  int dscp = 46;
  // Verdict thresholds (voice practice: ITU-T G.114, Y.1541 class 0/1).
  double max_one_way_delay_ms = 150;
  double max_rtt_ms = 300;  // when the clocks are not both synchronised
  double max_jitter_ms = 30;
  double max_loss_pct = 1;
  double mos_pass = 4.0;  // at or above: pass
  double mos_fail = 3.6;  // below: fail; between: warn
  std::optional<std::uint16_t> control_port;

  static MediaQualityParams parse(ParamReader& r);
  std::string target() const;
};

inline constexpr std::size_t kTimelinePoints = 500;  // the most the details' timeline holds

// One packet of the stream as the client logged it (times in microseconds
// since the Unix epoch: the client's clock for sent/arrived, the
// responder's for received/reflected).
struct StreamPacket {
  std::int64_t sent_us = 0;
  std::optional<bool> reached_responder;  // the responder's record; nullopt when no reply or bitmap told
  std::optional<std::int64_t> received_us, reflected_us;  // from the first reply
  std::optional<std::int64_t> arrived_us;                 // the first reply's arrival
  int replies = 0;
};

// Everything measured of one stream; the analysis reads only this.
struct StreamLog {
  int interval_us = 20000;
  std::vector<StreamPacket> packets;       // index = sequence
  std::vector<std::uint32_t> reply_order;  // sequences in the order their first replies arrived
  // Of the responder's final record: requests received in all (main stream
  // and the tail probes), and duplicates.
  std::uint32_t responder_received = 0, responder_duplicates = 0;
  std::uint32_t tail_received = 0;  // tail probes the responder's final record shows received
  bool responder_clock_known = false, responder_clock_synchronised = false;
  double responder_clock_error_ms = 0;
  ClockState local_clock;
};

struct Percentiles {
  double p50 = 0, p95 = 0, p99 = 0;
};

// ITU-T G.107 simplified: R = 93.2 - Id - Ie_eff,
//   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)          (d: one-way delay, ms)
//   Ie_eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)
//   MOS = 1 + 0.035 R + R (R - 60)(100 - R) 7e-6  (1 below R 0, 4.5 above 100)
struct EModel {
  double ie = 0, bpl = 0, ppl_pct = 0, burst_r = 1, delay_ms = 0;  // inputs
  double id = 0, ie_eff = 0, r = 0, mos = 0;                       // results
};
EModel e_model(double ie, double bpl, double ppl_pct, double burst_r, double delay_ms);
double mos_of_r(double r);
// BurstR of a loss pattern (true = lost): 1 / (p + q) of the two-state
// Markov model fitted to it (p: P(loss | received), q: P(received | loss)); 1 without loss.
double burst_ratio(const std::vector<bool>& lost);

// RFC 3611 section 4.7.2 burst and gap densities with Gmin: a burst runs
// from a loss to a loss with fewer than gmin received packets between any
// two of its losses and holds at least two; everything else is gap.
struct BurstGap {
  double burst_density = 0, gap_density = 0;  // percent lost within bursts / gaps
  int burst_packets = 0, gap_packets = 0;
  int max_burst = 0;  // the longest run of consecutive losses
};
BurstGap burst_gap(const std::vector<bool>& lost, int gmin = 16);

// RFC 3550 A.8 interarrival jitter over transit times in arrival order.
double interarrival_jitter_us(const std::vector<std::int64_t>& transit_in_arrival_order);
// Nearest-rank percentiles; zeros for an empty list.
Percentiles percentiles(std::vector<double> values);

struct DirectionStats {
  int sent = 0, received = 0;
  double loss_pct = 0;
  BurstGap bursts;
  double jitter_ms = 0;
  Percentiles ipdv_ms;  // |transit(s+1) - transit(s)| for consecutive sequences
  int reordered = 0, duplicates = 0;
  std::optional<double> one_way_delay_ms;  // median, both clocks synchronised only
  double worst_200ms_loss_pct = 0, worst_5s_loss_pct = 0, worst_5s_jitter_ms = 0;
  double burst_r = 1;             // G.107 BurstR of this direction's loss pattern
  std::optional<EModel> e_model;  // nullopt: the codec has no published constants
};

struct MediaQualityResult {
  std::string host;
  std::optional<TargetAddresses> unresolved;
  std::string address;
  std::uint16_t port = 0, source_port = 0;
  std::string codec;
  int duration_s = 0, dscp = 0, packets_sent = 0, replies = 0;
  DirectionStats upstream, downstream;
  bool rtt_measured = false;
  double rtt_min_ms = 0, rtt_median_ms = 0, rtt_p95_ms = 0, rtt_p99_ms = 0, rtt_max_ms = 0;
  bool clock_synchronised = false;
  std::optional<double> clock_offset_ms;  // responder minus client, from the fastest round trip
  std::string clock_note;                 // why one-way delay is not reported
  // The worse direction's; nullopt when the codec has no published E-model
  // constants (mos_note says so).
  std::optional<double> r_factor, mos;
  std::string mos_note;
  // Replies stopped at this sequence and never resumed (a responder that
  // died, a path that broke); nullopt when they did not.
  std::optional<int> interrupted_at;
  // The ICMP destination-unreachable that ended the stream ("port
  // unreachable from 203.0.113.1"); empty when none came.
  std::string icmp;
  // RTT per packet (ms, null when lost) for the timeline; over 500 packets,
  // one point per bucket of ceil(packets / 500) packets: the bucket's highest RTT.
  std::vector<std::optional<double>> timeline_rtt_ms;
  std::vector<char> timeline_loss;  // per point: 0 none, 'u' upstream, 'd' downstream, 'b' both
};

// The analysis: pure, from the log alone (unit-tested on hand-built logs).
MediaQualityResult analyse_stream(const StreamLog& log, const MediaCodec& codec);

// details: contract keys (codec, duration_s, upstream/downstream {sent,
// received, loss_pct, max_burst, burst_density, gap_density, jitter_ms,
// ipdv_ms {p50,p95,p99}, reordered, duplicates, one_way_delay_ms}, rtt_ms
// {min,median,p95,p99,max}, clock {synchronised, offset_ms}, r_factor, mos)
// plus host, address, port, source_port, dscp, packets_sent, replies, per
// direction worst_200ms_loss_pct, worst_5s_loss_pct, worst_5s_jitter_ms and
// e_model {ie, bpl, ppl_pct, burst_r, delay_ms, id, ie_eff, r, mos},
// clock.note, interrupted_at, timeline {rtt_ms [..], loss "..."}. r_factor,
// mos and e_model are null for a codec without published E-model constants
// (opus, video), and mos_note says why; per direction burst_r.
void to_json(nlohmann::json& j, const MediaQualityResult& r);

// Findings (code, severity, operation):
//   media_quality.no_address   critical  resolve (inconclusive)
//   media_quality.no_reply     critical  receive: nothing came back
//   media_quality.rejected     critical  receive: an ICMP error refused the stream (it stops there)
//   media_quality.interrupted  critical  receive: replies stopped mid-stream
//   media_quality.loss         critical  per direction over max_loss_pct
//   media_quality.jitter       warning   per direction over max_jitter_ms
//   media_quality.delay        warning   one-way delay over the bound (or RTT when clocks are not synchronised)
//   media_quality.mos          critical below mos_fail, warning below mos_pass (scored codecs only: g711)
//   media_quality.clock_unsynchronised  info: one-way delay not reported
Judgement judge_media_quality(const MediaQualityResult& r, const MediaQualityParams& p);

view::View media_quality_view(const nlohmann::json& details);
metrics::Samples media_quality_metrics(const nlohmann::json& details);

CheckKind media_quality_check_kind();

}  // namespace callready::checks
