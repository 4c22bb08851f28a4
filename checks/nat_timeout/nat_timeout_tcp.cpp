#include "checks/nat_timeout/nat_timeout_tcp.hpp"

#include <random>

#include "checks/common/echo_client.hpp"
#include "checks/nat_timeout/nat_timeout_channel.hpp"
#include "probe/net/async.hpp"
#include "probe/net/errors.hpp"

namespace callready::checks::nat_timeout {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// The responder keeps at most this many deferred replies pending per connection.
constexpr std::size_t kPendingPerConnection = 16;

// One TCP connection carrying framed echo probes (checks::EchoStream).
class TcpChannel {
 public:
  TcpChannel(asio::any_io_executor ex, const TcpLadderOptions& o) : stream_(ex), o_(o) {
    std::random_device rd;
    session_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }

  // Connects; false with run.error (this machine) or run.silent_why (the path).
  asio::awaitable<bool> connect(ChannelRun& run) {
    EchoStreamOptions so;
    so.token = o_.token;
    auto connecting = stream_.connect(o_.target, so, o_.reply_wait);
    auto c = co_await std::move(connecting);
    if (c.error) run.error = c.error;
    if (c.connect_error) run.silent_why = std::string("connect ") + net::to_string(net::classify(c.connect_error));
    co_return c.ok();
  }

  asio::awaitable<void> send(std::uint32_t sequence, std::optional<std::uint32_t> delay_ms) {
    echo::Request req;
    req.session = session_;
    req.sequence = sequence;
    req.minimal_reply = true;
    req.reply_delay_ms = delay_ms;
    auto sending = stream_.send(req);
    (void)co_await std::move(sending);  // a failed write shows when reading
  }

  asio::awaitable<std::optional<Arrival>> next(Clock::time_point deadline) {
    for (;;) {
      auto receiving = stream_.receive(deadline);
      auto r = co_await std::move(receiving);
      if (r) {
        if (r->reply.session != session_) continue;
        co_return Arrival{r->reply, "", false};
      }
      auto failure = net::classify(stream_.last_error());
      if (failure == net::NetFailure::timeout) co_return std::nullopt;
      co_return Arrival{std::nullopt, net::to_string(failure), true};
    }
  }

 private:
  EchoStream stream_;
  const TcpLadderOptions& o_;
  std::uint64_t session_ = 0;
};

// After a rung's bytes did not arrive: use the connection once more. A reply
// means the state survived (the deferred bytes were lost some other way).
asio::awaitable<std::string> after_probe(TcpChannel& c, const ChannelRun& run, Millis wait) {
  if (!run.ended.empty()) co_return run.ended;
  co_await c.send(kAfterSequence, std::nullopt);
  auto until = Clock::now() + wait;
  while (auto a = co_await c.next(until)) {
    if (a->ended) co_return a->problem;
    if (a->reply) co_return "reply";
  }
  co_return "silence";
}

struct TcpRun {
  ChannelRun run;
  std::string after;
};

// Connects and makes one immediate exchange: the path and the service work.
asio::awaitable<bool> connect_and_warm(TcpChannel& c, ChannelRun& run, const TcpLadderOptions& o) {
  auto connecting = c.connect(run);
  if (!co_await std::move(connecting)) co_return false;
  auto warming = warm(c, run, 1, o.reply_wait, o.reply_wait);
  co_return co_await std::move(warming);
}

asio::awaitable<TcpRun> rung_connection(asio::any_io_executor ex, const TcpLadderOptions& o, int idle_s,
                                        std::shared_ptr<AskGate> gate) {
  AskedOnce asked(std::move(gate));
  TcpRun out;
  auto& run = out.run;
  TcpChannel c(ex, o);
  auto opening = connect_and_warm(c, run, o);
  if (!co_await std::move(opening)) co_return out;
  std::vector<int> delays{idle_s};
  auto asking = ask_deferred(c, delays);
  auto sent = co_await std::move(asking);
  asked.now();
  auto waiting = collect(c, run, delays, sent, sent + std::chrono::seconds(idle_s) + o.reply_wait);
  co_await std::move(waiting);
  if (run.error || run.arrived.front()) co_return out;
  auto probing = after_probe(c, run, o.reply_wait);
  out.after = co_await std::move(probing);
  co_return out;
}

// A canary connection for some of the rungs (the responder keeps at most
// kPendingPerConnection deferred replies per connection); it asks once every
// rung connection has (see AskGate).
asio::awaitable<TcpRun> canary_connection(asio::any_io_executor ex, const TcpLadderOptions& o, std::vector<int> delays,
                                          std::shared_ptr<AskGate> gate) {
  auto start = Clock::now();
  TcpRun out;
  auto& run = out.run;
  TcpChannel c(ex, o);
  auto opening = connect_and_warm(c, run, o);
  if (!co_await std::move(opening)) co_return out;
  // A rung asks after its connect and one exchange (each within reply_wait).
  auto waiting_for_rungs = gate->all_asked(start + 2 * o.reply_wait);
  co_await std::move(waiting_for_rungs);
  auto asking = ask_deferred(c, delays);
  auto sent = co_await std::move(asking);
  auto until = sent + std::chrono::seconds(*std::max_element(delays.begin(), delays.end())) + 2 * o.reply_wait;
  auto waiting = collect(c, run, delays, sent, until, canary_keepalive(o.keepalive, o.rungs));
  co_await std::move(waiting);
  co_return out;
}

}  // namespace

asio::awaitable<TcpLadderResult> measure_tcp_ladder(asio::any_io_executor ex, TcpLadderOptions o) {
  TcpLadderResult out;
  auto gate = std::make_shared<AskGate>(ex, o.rungs.size());
  std::vector<asio::awaitable<TcpRun>> tasks;
  for (int idle : o.rungs) tasks.push_back(rung_connection(ex, o, idle, gate));
  std::size_t canaries = 0;
  for (std::size_t first = 0; first < o.rungs.size(); first += kPendingPerConnection, ++canaries) {
    auto last = std::min(o.rungs.size(), first + kPendingPerConnection);
    std::vector<int> slice(o.rungs.begin() + static_cast<long>(first), o.rungs.begin() + static_cast<long>(last));
    tasks.push_back(canary_connection(ex, o, std::move(slice), gate));
  }
  auto gathering = net::gather(std::move(tasks));  // named: GCC 12 and co_await arguments
  auto runs = co_await std::move(gathering);
  for (const auto& r : runs)
    if (r.run.error) {
      out.error = r.run.error;
      co_return out;
    }
  // The canaries' arrivals, in rung order; the first silent one speaks for all.
  ChannelRun canary;
  canary.warmed = true;
  for (std::size_t k = 0; k < canaries; ++k) {
    const auto& c = runs[o.rungs.size() + k].run;
    canary.warmed = canary.warmed && c.warmed;
    if (canary.silent_why.empty()) canary.silent_why = c.silent_why;
    if (canary.ended.empty()) canary.ended = c.ended;
    auto arrived = c.arrived;
    arrived.resize(std::min(kPendingPerConnection, o.rungs.size() - k * kPendingPerConnection), false);
    canary.arrived.insert(canary.arrived.end(), arrived.begin(), arrived.end());
  }
  std::vector<bool> arrived;
  bool any_warmed = false;
  std::string why;
  for (std::size_t i = 0; i < o.rungs.size(); ++i) {
    arrived.push_back(!runs[i].run.arrived.empty() && runs[i].run.arrived.front());
    any_warmed = any_warmed || runs[i].run.warmed;
    if (why.empty()) why = runs[i].run.silent_why;
  }
  if (!any_warmed) {
    out.lifetime.unreachable = why.empty() ? "no echo reply" : why;
    co_return out;
  }
  out.lifetime = combine(o.rungs, arrived, canary.arrived);
  for (std::size_t i = 0; i < o.rungs.size(); ++i)
    if (out.lifetime.rungs[i].outcome == RungOutcome::expired) out.lifetime.rungs[i].after = runs[i].after;
  if (out.lifetime.unknown() > 0) out.error = canary_error(canary, o.rungs, "TCP connection");
  co_return out;
}

}  // namespace callready::checks::nat_timeout
