#include "checks/nat_timeout/nat_timeout_udp.hpp"

#include <random>

#include "checks/common/echo_client.hpp"
#include "checks/nat_timeout/nat_timeout_channel.hpp"
#include "probe/net/async.hpp"

namespace callready::checks::nat_timeout {

namespace {

namespace asio = boost::asio;

// One UDP socket (one NAT binding) and one echo session towards the responder.
class UdpChannel {
 public:
  UdpChannel(asio::any_io_executor ex, const UdpLadderOptions& o) : sock_(ex), o_(o) {
    std::random_device rd;
    session_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }

  std::optional<CheckError> open() {
    EchoSocketOptions so;
    so.token = o_.token;
    return sock_.open(o_.target.protocol(), so);
  }

  asio::awaitable<void> send(std::uint32_t sequence, std::optional<std::uint32_t> delay_ms) {
    echo::Request req;
    req.session = session_;
    req.sequence = sequence;
    req.sent_us = echo::now_us();
    req.minimal_reply = true;
    req.reply_delay_ms = delay_ms;
    (void)sock_.send(o_.target, req);  // a failed send shows as silence
    co_return;
  }

  asio::awaitable<std::optional<Arrival>> next(Clock::time_point deadline) {
    for (;;) {
      auto ev = co_await sock_.receive(deadline);
      if (!ev) co_return std::nullopt;
      if (ev->kind == EchoEvent::Kind::icmp) co_return Arrival{std::nullopt, ev->icmp.describe(), false};
      if (ev->from == o_.target && ev->reply.session == session_) co_return Arrival{ev->reply, "", false};
    }
  }

 private:
  EchoSocket sock_;
  const UdpLadderOptions& o_;
  std::uint64_t session_ = 0;
};

// One rung's binding: warm it, ask for one reply `idle_s` later, wait for it.
asio::awaitable<ChannelRun> rung_binding(asio::any_io_executor ex, const UdpLadderOptions& o, int idle_s,
                                         bool call_like, std::shared_ptr<AskGate> gate) {
  AskedOnce asked(std::move(gate));
  ChannelRun run;
  UdpChannel c(ex, o);
  if ((run.error = c.open())) co_return run;
  int exchanges = call_like ? static_cast<int>(o.warmup / std::max(o.exchange_every, Millis(1))) + 1 : 1;
  auto warming = warm(c, run, exchanges, o.exchange_every, o.reply_wait);
  if (!co_await std::move(warming)) co_return run;
  std::vector<int> delays{idle_s};
  auto asking = ask_deferred(c, delays);
  auto sent = co_await std::move(asking);
  asked.now();
  auto waiting = collect(c, run, delays, sent, sent + std::chrono::seconds(idle_s) + o.reply_wait);
  co_await std::move(waiting);
  co_return run;
}

// The canary: every rung's delay on one binding the client keeps busy, asked
// for once every rung has asked (after the call-like warm-up), so each
// deferred reply proves the responder kept that timer at least as long as the
// rung's of the same delay.
asio::awaitable<ChannelRun> canary_binding(asio::any_io_executor ex, const UdpLadderOptions& o,
                                           std::shared_ptr<AskGate> gate) {
  auto start = Clock::now();
  ChannelRun run;
  UdpChannel c(ex, o);
  if ((run.error = c.open())) co_return run;
  auto warming = warm(c, run, 1, o.exchange_every, o.reply_wait);
  if (!co_await std::move(warming)) co_return run;
  // A call-like rung asks after its warm-up and one reply (or reply_wait).
  auto waiting_for_rungs = gate->all_asked(start + o.warmup + 2 * o.reply_wait);
  co_await std::move(waiting_for_rungs);
  auto asking = ask_deferred(c, o.rungs);
  auto sent = co_await std::move(asking);
  int longest = o.rungs.empty() ? 0 : *std::max_element(o.rungs.begin(), o.rungs.end());
  auto until = sent + std::chrono::seconds(longest) + o.reply_wait;
  auto waiting = collect(c, run, o.rungs, sent, until, canary_keepalive(o.keepalive, o.rungs));
  co_await std::move(waiting);
  co_return run;
}

Lifetime variant_lifetime(const std::vector<int>& rungs, std::vector<ChannelRun>::const_iterator first,
                          const ChannelRun& canary) {
  std::vector<bool> arrived;
  bool any_warmed = false;
  std::string why;
  for (std::size_t i = 0; i < rungs.size(); ++i, ++first) {
    arrived.push_back(!first->arrived.empty() && first->arrived.front());
    any_warmed = any_warmed || first->warmed;
    if (why.empty()) why = first->silent_why;
  }
  if (!any_warmed) {
    Lifetime l;
    l.unreachable = why.empty() ? "no echo reply" : why;
    return l;
  }
  return combine(rungs, arrived, canary.arrived);
}

}  // namespace

asio::awaitable<UdpLadderResult> measure_udp_ladder(asio::any_io_executor ex, UdpLadderOptions o) {
  UdpLadderResult out;
  std::size_t variants = (o.call_like ? 1 : 0) + (o.single ? 1 : 0);
  auto gate = std::make_shared<AskGate>(ex, variants * o.rungs.size());
  std::vector<asio::awaitable<ChannelRun>> tasks;
  tasks.push_back(canary_binding(ex, o, gate));
  for (bool call_like : {true, false}) {
    if (call_like ? !o.call_like : !o.single) continue;
    for (int idle : o.rungs) tasks.push_back(rung_binding(ex, o, idle, call_like, gate));
  }
  auto gathering = net::gather(std::move(tasks));  // named: GCC 12 and co_await arguments
  auto runs = co_await std::move(gathering);
  for (const auto& r : runs)
    if (r.error) {
      out.error = r.error;
      co_return out;
    }
  const auto& canary = runs.front();
  out.mapped = canary.mapped;
  auto next = runs.cbegin() + 1;
  if (o.call_like) {
    out.call_like = variant_lifetime(o.rungs, next, canary);
    next += static_cast<long>(o.rungs.size());
  }
  if (o.single) out.single = variant_lifetime(o.rungs, next, canary);
  if (out.call_like.unknown() > 0 || out.single.unknown() > 0) out.error = canary_error(canary, o.rungs, "UDP binding");
  co_return out;
}

}  // namespace callready::checks::nat_timeout
