// media_quality's analysis: per-direction statistics and the E-model from
// the packet log alone (no sockets, no clock).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "checks/media_quality/media_quality_check.hpp"

namespace callready::checks {

double mos_of_r(double r) {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

EModel e_model(double ie, double bpl, double ppl_pct, double burst_r, double delay_ms) {
  EModel m{ie, bpl, ppl_pct, burst_r, delay_ms};
  double d = std::max(0.0, delay_ms);
  m.id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0.0);
  double br = burst_r > 0 ? burst_r : 1;
  m.ie_eff = ppl_pct > 0 ? ie + (95 - ie) * ppl_pct / (ppl_pct / br + bpl) : ie;
  m.r = 93.2 - m.id - m.ie_eff;
  m.mos = mos_of_r(m.r);
  return m;
}

double burst_ratio(const std::vector<bool>& lost) {
  double from_received = 0, received_to_lost = 0, from_lost = 0, lost_to_received = 0;
  for (std::size_t i = 1; i < lost.size(); ++i) {
    if (lost[i - 1]) {
      ++from_lost;
      if (!lost[i]) ++lost_to_received;
    } else {
      ++from_received;
      if (lost[i]) ++received_to_lost;
    }
  }
  if (std::none_of(lost.begin(), lost.end(), [](bool l) { return l; })) return 1;
  double p = from_received > 0 ? received_to_lost / from_received : 0;
  double q = from_lost > 0 ? lost_to_received / from_lost : 1;  // a single final loss: no run observed
  return p + q > 0 ? 1 / (p + q) : 1;
}

BurstGap burst_gap(const std::vector<bool>& lost, int gmin) {
  BurstGap out;
  std::vector<std::size_t> losses;
  int run = 0;
  for (std::size_t i = 0; i < lost.size(); ++i) {
    run = lost[i] ? run + 1 : 0;
    out.max_burst = std::max(out.max_burst, run);
    if (lost[i]) losses.push_back(i);
  }
  int burst_lost = 0;
  // Clusters of losses with fewer than gmin received packets between neighbours.
  for (std::size_t a = 0; a < losses.size();) {
    std::size_t b = a;
    while (b + 1 < losses.size() && losses[b + 1] - losses[b] - 1 < static_cast<std::size_t>(gmin)) ++b;
    if (b > a) {  // two losses or more: a burst from the first to the last
      out.burst_packets += static_cast<int>(losses[b] - losses[a] + 1);
      burst_lost += static_cast<int>(b - a + 1);
    }
    a = b + 1;
  }
  out.gap_packets = static_cast<int>(lost.size()) - out.burst_packets;
  int gap_lost = static_cast<int>(losses.size()) - burst_lost;
  out.burst_density = out.burst_packets > 0 ? 100.0 * burst_lost / out.burst_packets : 0;
  out.gap_density = out.gap_packets > 0 ? 100.0 * gap_lost / out.gap_packets : 0;
  return out;
}

double interarrival_jitter_us(const std::vector<std::int64_t>& transit) {
  double j = 0;
  for (std::size_t i = 1; i < transit.size(); ++i) {
    double d = std::abs(static_cast<double>(transit[i] - transit[i - 1]));
    j += (d - j) / 16;
  }
  return j;
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    auto idx = static_cast<std::size_t>(std::ceil(q / 100 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(idx, 1, v.size()) - 1];
  };
  p.p50 = rank(50);
  p.p95 = rank(95);
  p.p99 = rank(99);
  return p;
}

namespace {

// Rounded to `digits` decimals, as a person reads them (1.234, not 1.2340000000000002).
double round_to(double v, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}
double ms(double us) { return round_to(us / 1000.0, 3); }

double median(std::vector<double> v) { return percentiles(std::move(v)).p50; }

// The worst loss over windows of `width` consecutive sequences; `lost`
// nullopt for packets that do not count in this direction.
double worst_window_loss(const std::vector<std::optional<bool>>& lost, std::size_t width) {
  std::size_t n = lost.size();
  if (n == 0) return 0;
  width = std::clamp<std::size_t>(width, 1, n);
  std::vector<int> counted(n + 1, 0), missing(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    counted[i + 1] = counted[i] + (lost[i] ? 1 : 0);
    missing[i + 1] = missing[i] + (lost[i] && *lost[i] ? 1 : 0);
  }
  double worst = 0;
  for (std::size_t s = 0; s + width <= n; ++s) {
    int c = counted[s + width] - counted[s];
    if (c > 0) worst = std::max(worst, 100.0 * (missing[s + width] - missing[s]) / c);
  }
  return worst;
}

// The worst RFC 3550 jitter over windows of `width` sequences (transits in sequence order).
double worst_window_jitter_us(const std::vector<std::optional<std::int64_t>>& transit, std::size_t width) {
  std::size_t n = transit.size();
  if (n == 0) return 0;
  width = std::clamp<std::size_t>(width, 1, n);
  std::size_t step = std::max<std::size_t>(1, width / 10);  // bounded cost on long video streams
  double worst = 0;
  for (std::size_t s = 0; s + width <= n; s += step) {
    std::vector<std::int64_t> in;
    for (std::size_t i = s; i < s + width; ++i)
      if (transit[i]) in.push_back(*transit[i]);
    worst = std::max(worst, interarrival_jitter_us(in));
    if (s + width == n) break;
    if (s + step + width > n) s = n - width - step;  // the last window ends at n
  }
  return worst;
}

struct DirectionInput {
  std::vector<std::optional<bool>> lost;             // by sequence; nullopt: not sent this way
  std::vector<std::optional<std::int64_t>> transit;  // by sequence
  std::vector<std::int64_t> transit_in_arrival_order;
  std::vector<double> one_way_us;  // when clocks are synchronised
  int reordered = 0, duplicates = 0;
};

DirectionStats direction_stats(const DirectionInput& in, int interval_us, bool synced) {
  DirectionStats d;
  std::vector<bool> series;
  for (const auto& l : in.lost)
    if (l) series.push_back(*l);
  d.sent = static_cast<int>(series.size());
  d.received = static_cast<int>(std::count(series.begin(), series.end(), false));
  d.loss_pct = d.sent > 0 ? round_to(100.0 * (d.sent - d.received) / d.sent, 3) : 0;
  d.bursts = burst_gap(series);
  d.bursts.burst_density = round_to(d.bursts.burst_density, 2);
  d.bursts.gap_density = round_to(d.bursts.gap_density, 2);
  d.jitter_ms = ms(interarrival_jitter_us(in.transit_in_arrival_order));
  std::vector<double> ipdv;
  for (std::size_t s = 1; s < in.transit.size(); ++s)
    if (in.transit[s] && in.transit[s - 1])
      ipdv.push_back(std::abs(static_cast<double>(*in.transit[s] - *in.transit[s - 1])) / 1000.0);
  d.ipdv_ms = percentiles(ipdv);
  d.reordered = in.reordered;
  d.duplicates = in.duplicates;
  if (synced && !in.one_way_us.empty()) d.one_way_delay_ms = ms(median(in.one_way_us));
  auto per = [&](int window_us) { return static_cast<std::size_t>(std::max(1, window_us / std::max(1, interval_us))); };
  d.worst_200ms_loss_pct = round_to(worst_window_loss(in.lost, per(200'000)), 2);
  d.worst_5s_loss_pct = round_to(worst_window_loss(in.lost, per(5'000'000)), 2);
  d.worst_5s_jitter_ms = ms(worst_window_jitter_us(in.transit, per(5'000'000)));
  d.burst_r = burst_ratio(series);
  return d;
}

// Which packets reached the responder: a reply or a bitmap says so; the rest
// (more than a window of replies lost in a row) are shared out so that the
// responder's final count holds, the received ones first.
std::vector<bool> reached_responder(const StreamLog& log) {
  std::size_t n = log.packets.size();
  std::vector<bool> up(n, false);
  std::vector<std::size_t> unknown;
  long long known = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const auto& p = log.packets[s];
    if (p.replies > 0 || p.reached_responder == true) {
      up[s] = true;
      ++known;
    } else if (!p.reached_responder) {
      unknown.push_back(s);
    }
  }
  long long main_received = static_cast<long long>(log.responder_received) - log.tail_received;
  long long extra = std::clamp<long long>(main_received - known, 0, static_cast<long long>(unknown.size()));
  for (long long i = 0; i < extra; ++i) up[unknown[static_cast<std::size_t>(i)]] = true;
  return up;
}

int count_reordered(const std::vector<std::pair<std::int64_t, std::int64_t>>& order_then_key) {
  // In arrival order, a packet whose key is below one that arrived before it.
  int reordered = 0;
  std::optional<std::int64_t> highest;
  for (const auto& [arrival, key] : order_then_key) {
    if (highest && key < *highest)
      ++reordered;
    else
      highest = key;
  }
  return reordered;
}

}  // namespace

MediaQualityResult analyse_stream(const StreamLog& log, const MediaCodec& codec) {
  MediaQualityResult r;
  r.codec = codec.name;
  std::size_t n = log.packets.size();
  r.packets_sent = static_cast<int>(n);
  auto up = reached_responder(log);
  bool synced = log.local_clock.synchronised && log.responder_clock_synchronised;
  DirectionInput u, d;
  u.lost.resize(n);
  d.lost.resize(n);
  u.transit.resize(n);
  d.transit.resize(n);
  std::vector<std::pair<std::int64_t, std::int64_t>> up_arrivals, down_arrivals;
  std::vector<double> rtts;
  std::optional<std::pair<double, double>> fastest;  // rtt, offset
  int reply_copies = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const auto& p = log.packets[s];
    u.lost[s] = !up[s];
    if (up[s]) d.lost[s] = !p.arrived_us.has_value();
    if (p.replies > 0) ++r.replies;
    reply_copies += std::max(0, p.replies - 1);
    if (p.received_us) {
      u.transit[s] = *p.received_us - p.sent_us;
      up_arrivals.emplace_back(*p.received_us, static_cast<std::int64_t>(s));
      if (synced) u.one_way_us.push_back(static_cast<double>(*u.transit[s]));
    }
    if (p.arrived_us && p.reflected_us && p.received_us) {
      d.transit[s] = *p.arrived_us - *p.reflected_us;
      if (synced) d.one_way_us.push_back(static_cast<double>(*d.transit[s]));
      // The network's round trip: the responder's hold time taken out.
      double rtt = static_cast<double>((*p.arrived_us - p.sent_us) - (*p.reflected_us - *p.received_us));
      rtts.push_back(rtt);
      double offset = ((*p.received_us - p.sent_us) + (*p.reflected_us - *p.arrived_us)) / 2.0;
      if (!fastest || rtt < fastest->first) fastest = std::make_pair(rtt, offset);
    }
  }
  std::sort(up_arrivals.begin(), up_arrivals.end());
  for (const auto& [at, s] : up_arrivals) u.transit_in_arrival_order.push_back(*u.transit[static_cast<std::size_t>(s)]);
  u.reordered = count_reordered(up_arrivals);
  for (std::size_t i = 0; i < log.reply_order.size(); ++i) {
    auto s = log.reply_order[i];
    if (s >= n || !d.transit[s]) continue;
    d.transit_in_arrival_order.push_back(*d.transit[s]);
    down_arrivals.emplace_back(static_cast<std::int64_t>(i), *log.packets[s].reflected_us);
  }
  d.reordered = count_reordered(down_arrivals);
  u.duplicates = static_cast<int>(log.responder_duplicates);
  d.duplicates = std::max(0, reply_copies - u.duplicates);  // a duplicated request is answered twice
  r.upstream = direction_stats(u, log.interval_us, synced);
  r.downstream = direction_stats(d, log.interval_us, synced);

  r.rtt_measured = !rtts.empty();
  if (r.rtt_measured) {
    auto pc = percentiles(rtts);
    r.rtt_min_ms = ms(*std::min_element(rtts.begin(), rtts.end()));
    r.rtt_max_ms = ms(*std::max_element(rtts.begin(), rtts.end()));
    r.rtt_median_ms = ms(pc.p50);
    r.rtt_p95_ms = ms(pc.p95);
    r.rtt_p99_ms = ms(pc.p99);
  }
  r.clock_synchronised = synced;
  if (fastest) r.clock_offset_ms = ms(fastest->second);
  if (!synced)
    r.clock_note = !log.local_clock.synchronised
                       ? "this machine's clock is not synchronised"
                       : (log.responder_clock_known ? "the responder's clock is not synchronised"
                                                    : "the responder's clock state is unknown");

  // E-model per direction: the direction's one-way delay (half the round
  // trip when the clocks cannot say) plus a jitter buffer of twice its jitter.
  if (codec.impairment) {
    for (auto* dir : {&r.upstream, &r.downstream}) {
      double delay = dir->one_way_delay_ms ? *dir->one_way_delay_ms : r.rtt_median_ms / 2;
      dir->e_model = checks::e_model(codec.impairment->ie, codec.impairment->bpl, dir->loss_pct, dir->burst_r,
                                     delay + 2 * dir->jitter_ms);
    }
    const auto& worse = r.upstream.e_model->r <= r.downstream.e_model->r ? r.upstream : r.downstream;
    r.r_factor = round_to(worse.e_model->r, 2);
    r.mos = round_to(worse.e_model->mos, 2);
  } else {
    r.mos_note = codec.no_mos_reason;
  }

  // Replies that stopped for good, a second or more before the end.
  if (r.replies > 0) {
    std::size_t last = n;
    for (std::size_t s = n; s-- > 0;)
      if (log.packets[s].replies > 0) {
        last = s;
        break;
      }
    if (last + 1 < n && static_cast<long long>(n - 1 - last) * log.interval_us >= 1'000'000)
      r.interrupted_at = static_cast<int>(last + 1);
  }

  // The timeline: every packet up to 500, else buckets of `step` packets
  // with the highest RTT of each (a spike stays seen) and its losses.
  std::size_t step = std::max<std::size_t>(1, (n + kTimelinePoints - 1) / kTimelinePoints);
  for (std::size_t s = 0; s < n; s += step) {
    std::optional<double> rtt;
    bool lost_up = false, lost_down = false;
    for (std::size_t k = s; k < std::min(n, s + step); ++k) {
      const auto& p = log.packets[k];
      if (p.arrived_us && p.reflected_us && p.received_us) {
        double v = ms(static_cast<double>((*p.arrived_us - p.sent_us) - (*p.reflected_us - *p.received_us)));
        rtt = rtt ? std::max(*rtt, v) : v;
      }
      lost_up |= *u.lost[k];
      lost_down |= d.lost[k] && *d.lost[k];
    }
    r.timeline_rtt_ms.push_back(rtt);
    r.timeline_loss.push_back(lost_up && lost_down ? 'b' : lost_up ? 'u' : lost_down ? 'd' : 0);
  }
  return r;
}

}  // namespace callready::checks
