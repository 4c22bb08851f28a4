#pragma once
// What a UDP binding and a TCP connection share in nat_timeout: warm the
// path with immediate echo exchanges, then wait for deferred replies (keeping
// the channel busy with exchanges when it is the canary). A Channel provides
//   boost::asio::awaitable<void> send(std::uint32_t sequence, std::optional<std::uint32_t> delay_ms);
//   boost::asio::awaitable<std::optional<Arrival>> next(Clock::time_point deadline);
// next() returns nullopt at the deadline; an Arrival with `ended` when the
// channel can carry nothing more (TCP reset or close).
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checks/common/echo_probe.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks::nat_timeout {

inline constexpr std::uint32_t kDeferredSequence = 1000;  // + rung index on the canary
inline constexpr std::uint32_t kKeepaliveSequence = 100000;
inline constexpr std::uint32_t kAfterSequence = 200000;

struct Arrival {
  std::optional<echo::Reply> reply;
  std::string problem;  // ICMP error, "reset", "closed"
  bool ended = false;   // the channel is gone (TCP)
};

// What one channel (a rung's, or the canary) saw.
struct ChannelRun {
  bool warmed = false;        // a warm-up reply came back
  std::string silent_why;     // when not warmed: silence, the ICMP error, the failed connect
  std::vector<bool> arrived;  // per deferred request
  std::string ended;          // "reset" / "closed" when the channel ended while waiting
  std::optional<std::string> mapped;
  std::optional<CheckError> error;  // local, or setup
};

// Immediate exchanges: `count` requests `every` apart (a lone request is
// retransmitted twice, like a REGISTER); true when any was answered.
template <class Channel>
boost::asio::awaitable<bool> warm(Channel& c, ChannelRun& run, int count, Millis every, Millis reply_wait) {
  auto start = Clock::now();
  int tries = count;
  for (int k = 0; k < tries; ++k) {
    co_await c.send(static_cast<std::uint32_t>(k), std::nullopt);
    bool last = k + 1 == tries;
    auto until = last ? Clock::now() + reply_wait : start + every * (k + 1);
    while (auto a = co_await c.next(until)) {
      if (!a->reply) {
        run.silent_why = a->problem;
        if (a->ended) co_return false;
        continue;
      }
      if (a->reply->marks.delayed) continue;
      run.warmed = true;
      const auto& seen = a->reply->seen.source;
      run.mapped = fmt::format("{}:{}", seen.address().to_string(), seen.port());
      if (last) break;
    }
    if (last && !run.warmed && tries < 3) ++tries;
  }
  if (!run.warmed && run.silent_why.empty())
    run.silent_why = fmt::format("no echo reply in {} ms", (Clock::now() - start) / Millis(1));
  co_return run.warmed;
}

// Waits until `until` for the deferred replies to sequences first..first+n-1
// (sent at `sent` with `delays`), marking run.arrived. With `keepalive`, an
// immediate exchange every so often keeps the channel itself alive (the
// canary). A reply the responder did not defer, or sent well before its
// time, is a set-up error: its timers cannot be trusted.
template <class Channel>
boost::asio::awaitable<void> collect(Channel& c, ChannelRun& run, const std::vector<int>& delays,
                                     Clock::time_point sent, Clock::time_point until, Millis keepalive = Millis(0)) {
  run.arrived.assign(delays.size(), false);
  auto next_keepalive = keepalive.count() > 0 ? sent + keepalive : Clock::time_point::max();
  std::uint32_t keepalives = 0;
  for (;;) {
    auto a = co_await c.next(std::min(until, next_keepalive));
    if (!a) {
      if (Clock::now() >= until) co_return;
      if (Clock::now() >= next_keepalive) {
        co_await c.send(kKeepaliveSequence + keepalives++, std::nullopt);
        next_keepalive += keepalive;
      }
      continue;
    }
    if (a->ended) {
      run.ended = a->problem;
      co_return;
    }
    if (!a->reply || a->reply->sequence < kDeferredSequence || a->reply->sequence >= kDeferredSequence + delays.size())
      continue;
    auto i = a->reply->sequence - kDeferredSequence;
    if (!a->reply->marks.delayed) {
      run.error = CheckError{ErrorReason::setup, Operation::receive,
                             fmt::format("The responder answered at once instead of after {} s: it refused the "
                                         "deferred reply or is too old to offer it (echo v2 reply_delay_ms)",
                                         delays[i])};
      co_return;
    }
    auto early = sent + std::chrono::seconds(delays[i]) - Clock::now();
    if (early > Millis(1000)) {
      run.error = CheckError{
          ErrorReason::setup, Operation::receive,
          fmt::format("The responder sent the reply deferred by {} s {} ms early: its timers cannot be trusted",
                      delays[i], std::chrono::duration_cast<Millis>(early).count())};
      co_return;
    }
    run.arrived[i] = true;
  }
}

// Asks for one deferred reply per delay (sequences kDeferredSequence + i);
// returns when they were sent.
template <class Channel>
boost::asio::awaitable<Clock::time_point> ask_deferred(Channel& c, const std::vector<int>& delays) {
  auto sent = Clock::now();
  for (std::size_t i = 0; i < delays.size(); ++i)
    co_await c.send(kDeferredSequence + static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(delays[i]) * 1000);
  co_return sent;
}

// The rung channels that have not yet asked for their deferred packet. The
// canary asks only once every rung has asked (or given up), so each of its
// packets is due no earlier than the rung packet of the same delay: a
// responder that loses its timers (a restart) before a rung's packet is due
// loses the canary's as well, and the rung reads unknown, never expired.
class AskGate {
 public:
  AskGate(boost::asio::any_io_executor ex, std::size_t rungs) : wake_(ex), left_(rungs) {
    wake_.expires_at(Clock::time_point::max());
  }
  void asked() {
    if (left_ > 0 && --left_ == 0) wake_.cancel();
  }
  // Until every rung asked, or `latest`: a rung whose warm-up is still
  // retrying then asks after the canary (a weaker proof for that rung alone),
  // and the check's time stays bounded.
  boost::asio::awaitable<void> all_asked(Clock::time_point latest) {
    using namespace boost::asio::experimental::awaitable_operators;
    auto tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    Timer deadline(wake_.get_executor());
    deadline.expires_at(latest);
    while (left_ > 0 && Clock::now() < latest) co_await (wake_.async_wait(tuple) || deadline.async_wait(tuple));
  }

 private:
  Timer wake_;
  std::size_t left_;
};

// Tells the gate once: when the rung has asked, or on any way out before.
class AskedOnce {
 public:
  explicit AskedOnce(std::shared_ptr<AskGate> gate) : gate_(std::move(gate)) {}
  AskedOnce(const AskedOnce&) = delete;
  AskedOnce& operator=(const AskedOnce&) = delete;
  ~AskedOnce() { now(); }
  void now() {
    if (gate_) std::exchange(gate_, nullptr)->asked();
  }

 private:
  std::shared_ptr<AskGate> gate_;
};

// The canary's exchange interval: `wanted`, but at most a third of the shortest rung.
Millis canary_keepalive(Millis wanted, const std::vector<int>& rungs);

// The error when a rung could not be told (the canary's reply is missing).
CheckError canary_error(const ChannelRun& canary, const std::vector<int>& rungs, const std::string& what);

}  // namespace callready::checks::nat_timeout
