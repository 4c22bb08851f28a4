// media_quality's stream: the paced sender and the log of what came back
// (measurement only; the analysis is media_quality_stats.cpp).
#include "checks/media_quality/media_quality_stream.hpp"

#include <algorithm>

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

constexpr int kTailProbes = 3;         // after the stream: their replies carry the responder's final record
constexpr Millis kMinReplyWait{1000};  // after the last packet, for late replies

// The client's wall clock for a Clock time point (the stream's timestamps
// are wall-clock microseconds; Clock is what timers and virtual time use).
struct WallClock {
  Clock::time_point clock0 = Clock::now();
  std::int64_t wall0 = static_cast<std::int64_t>(echo::now_us());
  std::int64_t at(Clock::time_point t) const {
    return wall0 + std::chrono::duration_cast<std::chrono::microseconds>(t - clock0).count();
  }
};

struct StreamRun {
  StreamLog log;
  std::optional<echo::StreamView> latest;  // the responder's most advanced record
  std::uint64_t session = 0;
  std::size_t main = 0;  // packets of the stream proper
  std::vector<bool> tail_replied;
  int outstanding = 0;
  Millis max_rtt{0};
  std::string icmp;  // the first ICMP destination-unreachable for the destination
  int replies = 0;
  // An ICMP error before any reply: a closed or rejecting port, told within
  // one round trip; the stream stops there. One after replies (a responder
  // that died) is named, and the stream goes on to measure the outage.
  bool refused() const { return !icmp.empty() && replies == 0; }
};

void note_view(StreamRun& run, const echo::StreamView& v) {
  if (!run.latest || v.received + v.duplicates >= run.latest->received + run.latest->duplicates) run.latest = v;
  std::uint32_t lowest = v.highest > echo::kStreamWindow ? v.highest - echo::kStreamWindow : 0;
  for (std::uint32_t s = lowest; s <= v.highest && s < run.main; ++s) {
    auto covered = v.covers(s);
    auto& mark = run.log.packets[s].reached_responder;
    if (covered && (!mark || *covered)) mark = *covered;  // a later "received" overrides an earlier "not yet"
  }
}

void take_reply(StreamRun& run, const EchoEvent& ev, const WallClock& wall) {
  const auto& reply = ev.reply;
  if (reply.session != run.session || !reply.stream) return;
  std::size_t s = reply.sequence;
  if (s >= run.main + run.tail_replied.size()) return;
  note_view(run, *reply.stream);
  if (s >= run.main) {
    if (!run.tail_replied[s - run.main]) --run.outstanding;
    run.tail_replied[s - run.main] = true;
    return;
  }
  auto& p = run.log.packets[s];
  if (p.replies++ > 0) return;  // a duplicate: counted, its times ignored
  --run.outstanding;
  p.received_us = static_cast<std::int64_t>(reply.seen.received_us);
  p.reflected_us = static_cast<std::int64_t>(reply.stream->sent_us);
  p.arrived_us = wall.at(ev.at);
  run.log.reply_order.push_back(reply.sequence);
  run.max_rtt = std::max(run.max_rtt, Millis((*p.arrived_us - p.sent_us) / 1000));
}

void take_event(StreamRun& run, const EchoEvent& ev, const udp::endpoint& to, const WallClock& wall) {
  if (ev.kind == EchoEvent::Kind::reply && ev.from == to) {
    ++run.replies;
    take_reply(run, ev, wall);
  }
  if (ev.kind == EchoEvent::Kind::icmp && ev.icmp.destination == to && ev.icmp.destination_unreachable() &&
      run.icmp.empty())
    run.icmp = ev.icmp.describe();
}

void finish_log(StreamRun& run) {
  if (!run.latest) return;
  const auto& v = *run.latest;
  run.log.responder_received = v.received;
  run.log.responder_duplicates = v.duplicates;
  for (std::size_t t = 0; t < run.tail_replied.size(); ++t)
    if (run.tail_replied[t] || v.covers(static_cast<std::uint32_t>(run.main + t)) == true) ++run.log.tail_received;
  run.log.responder_clock_known = v.clock_known;
  run.log.responder_clock_synchronised = v.clock_synchronised;
  run.log.responder_clock_error_ms = v.clock_error_ms;
}

}  // namespace

Millis media_stream_time(const MediaCodec& codec, int duration_s) {
  auto packets = static_cast<long long>(duration_s) * 1'000'000 / codec.interval_us + kTailProbes;
  return std::chrono::duration_cast<Millis>(std::chrono::microseconds(codec.interval_us) * packets) + kMinReplyWait;
}

asio::awaitable<MediaStream> run_media_stream(EchoSocket& socket, udp::endpoint to, MediaCodec codec, int duration_s,
                                              std::uint64_t session, Millis budget) {
  StreamRun run;
  run.log.interval_us = codec.interval_us;
  run.log.local_clock = read_clock_state();
  WallClock wall;
  auto interval = std::chrono::microseconds(codec.interval_us);
  run.main = static_cast<std::size_t>(static_cast<long long>(duration_s) * 1'000'000 / codec.interval_us);
  run.tail_replied.assign(kTailProbes, false);
  run.session = session;
  auto end = wall.clock0 + budget;
  auto drain_until = [&](Clock::time_point until) -> asio::awaitable<void> {
    while (Clock::now() < until && !run.refused()) {
      auto receiving = socket.receive(until);
      auto ev = co_await std::move(receiving);
      if (!ev) break;
      take_event(run, *ev, to, wall);
    }
  };
  for (std::size_t i = 0; i < run.main + kTailProbes; ++i) {
    auto due = wall.clock0 + std::chrono::duration_cast<Clock::duration>(interval * i);
    if (due >= end) break;
    auto draining = drain_until(due);
    co_await std::move(draining);
    if (run.refused()) break;
    echo::Request req;
    req.session = run.session;
    req.sequence = static_cast<std::uint32_t>(i);
    req.stream = true;
    req.size = codec.datagram;
    auto now = Clock::now();
    req.sent_us = static_cast<std::uint64_t>(wall.at(now));
    auto error = socket.send(to, req);
    if (i < run.main) {
      run.log.packets.push_back({});
      run.log.packets.back().sent_us = wall.at(now);
    }
    if (!error) ++run.outstanding;
  }
  if (run.log.packets.size() < run.main) run.main = run.log.packets.size();  // the budget ran out first
  auto wait = std::max(kMinReplyWait, run.max_rtt * 3);
  auto until = std::min(end, Clock::now() + std::chrono::duration_cast<Clock::duration>(wait));
  while (run.outstanding > 0 && Clock::now() < until && !run.refused()) {
    auto receiving = socket.receive(until);
    auto ev = co_await std::move(receiving);
    if (!ev) break;
    take_event(run, *ev, to, wall);
  }
  finish_log(run);
  co_return MediaStream{std::move(run.log), run.latest.has_value(), std::move(run.icmp)};
}

}  // namespace callready::checks
