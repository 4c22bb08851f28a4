// nat_timeout's UDP ladder in virtual time, against an in-process responder
// on loopback that also plays the NAT: it keeps a conntrack-like entry per
// client port (an unreplied timeout, and a longer stream timeout once a flow
// has had replies and is older than 2 s, as Linux conntrack does) and drops
// a deferred reply whose binding has expired. The bounds, the canary and the
// check's duration (the longest rung plus the warm-up and the grace) are
// asserted exactly; 50 s of idle bindings run in microseconds.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <optional>

#include "checks/common/echo_probe.hpp"
#include "checks/nat_timeout/nat_timeout_udp.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks;
namespace asio = boost::asio;
using asio::ip::udp;
using nat_timeout::RungOutcome;

namespace {

// The responder's deferred replies pass a NAT with these conntrack timeouts.
struct NatResponder {
  udp::socket sock;
  std::chrono::seconds unreplied, stream;
  std::optional<std::chrono::seconds> lose_timers_at;  // a restart: every pending deferred reply is gone
  struct Entry {
    Clock::time_point first, last;
    bool replied = false;
  };
  std::map<udp::endpoint, Entry> entries;
  std::vector<std::shared_ptr<Timer>> pending;
  int deferred_sent = 0, deferred_dropped = 0;

  NatResponder(asio::io_context& io, int unreplied_s, int stream_s)
      : sock(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), unreplied(unreplied_s), stream(stream_s) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  udp::endpoint endpoint() const { return sock.local_endpoint(); }

  // Conntrack's view of a packet of this flow now: alive (refreshed) or a new flow.
  bool pass(const udp::endpoint& client, bool reply) {
    auto now = Clock::now();
    auto it = entries.find(client);
    if (it != entries.end()) {
      auto& e = it->second;
      bool is_stream = e.replied && e.last - e.first > std::chrono::seconds(2);
      if (now - e.last > (is_stream ? stream : unreplied)) entries.erase(it), it = entries.end();
    }
    if (it == entries.end()) {
      if (reply) return false;  // no binding: the NAT drops it
      it = entries.emplace(client, Entry{now, now, false}).first;
    }
    it->second.last = now;
    if (reply) it->second.replied = true;
    return true;
  }

  void answer(const echo::Request& req, const udp::endpoint& client, bool delayed) {
    if (!pass(client, true)) {
      ++deferred_dropped;
      return;
    }
    echo::Observation seen;
    seen.source = client;
    seen.request_size = static_cast<std::uint16_t>(req.size);
    echo::ReplyMarks marks;
    marks.delayed = delayed;
    auto bytes = echo::encode_reply(req, seen, "", marks);
    boost::system::error_code ec;
    sock.send_to(asio::buffer(bytes), client, 0, ec);
    if (delayed) ++deferred_sent;
  }

  asio::awaitable<void> serve() {
    std::array<std::uint8_t, 2048> buf;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      echo::Request req;
      if (echo::decode_request(echo::Bytes(buf.data(), n), "", req) != echo::DecodeError::none) continue;
      pass(from, false);
      if (!req.reply_delay_ms || *req.reply_delay_ms == 0) {
        answer(req, from, false);
        continue;
      }
      auto t = std::make_shared<Timer>(sock.get_executor());
      t->expires_after(Millis(*req.reply_delay_ms));
      pending.push_back(t);
      t->async_wait([this, req, from](boost::system::error_code e) {
        if (!e) answer(req, from, true);
      });
    }
  }
};

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

std::pair<nat_timeout::UdpLadderResult, Millis> run_ladder(asio::io_context& io, const VirtualTime& vt,
                                                           NatResponder& peer, nat_timeout::UdpLadderOptions o) {
  std::optional<nat_timeout::UdpLadderResult> result;
  Millis done{0};
  if (peer.lose_timers_at) {
    auto restart = std::make_shared<Timer>(io);
    restart->expires_after(*peer.lose_timers_at);
    restart->async_wait([&peer, restart](boost::system::error_code) {
      for (auto& t : peer.pending) t->cancel();
    });
  }
  asio::co_spawn(io, nat_timeout::measure_udp_ladder(io.get_executor(), std::move(o)),
                 [&](std::exception_ptr e, nat_timeout::UdpLadderResult r) {
                   REQUIRE_FALSE(e);
                   result = std::move(r);
                   done = since(vt);
                   peer.sock.close();
                 });
  run_io(io);
  REQUIRE(result);
  return {std::move(*result), done};
}

nat_timeout::UdpLadderOptions options(const NatResponder& peer) {
  nat_timeout::UdpLadderOptions o;
  o.target = peer.endpoint();
  o.rungs = {10, 15, 25, 40, 50};
  o.warmup = Millis(2500);
  o.exchange_every = Millis(500);
  o.reply_wait = Millis(1000);
  return o;
}

std::vector<RungOutcome> outcomes(const nat_timeout::Lifetime& l) {
  std::vector<RungOutcome> out;
  for (const auto& r : l.rungs) out.push_back(r.outcome);
  return out;
}

}  // namespace

TEST_CASE("nat_timeout UDP: single exchange reads the unreplied timeout, call-like the stream timeout") {
  VirtualTime vt;
  asio::io_context io;
  NatResponder peer(io, 20, 45);
  auto [r, done] = run_ladder(io, vt, peer, options(peer));
  REQUIRE_FALSE(r.error);
  using enum RungOutcome;
  CHECK(outcomes(r.single) == std::vector<RungOutcome>{reached, reached, expired, expired, expired});
  CHECK(outcomes(r.call_like) == std::vector<RungOutcome>{reached, reached, reached, reached, expired});
  CHECK(r.single.lifetime_min_s() == 15);
  CHECK(r.single.lifetime_max_s() == 25);
  CHECK(r.call_like.lifetime_min_s() == 40);
  CHECK(r.call_like.lifetime_max_s() == 50);
  CHECK(r.mapped.value_or("").rfind("127.0.0.1:", 0) == 0);
  // Every rung tested exactly once, and the canary's five all came back.
  CHECK(peer.deferred_sent + peer.deferred_dropped == 2 * 5 + 5);
  CHECK(peer.deferred_dropped == 4);
  // The canary outwaits the last call-like rung: 50 s + warm-up 2.5 s + grace 1 s.
  CHECK(done >= Millis(53500));
  CHECK(done <= Millis(53510));
}

TEST_CASE("nat_timeout UDP: nothing expires within the ladder: lower bound only") {
  VirtualTime vt;
  asio::io_context io;
  NatResponder peer(io, 300, 300);
  auto [r, done] = run_ladder(io, vt, peer, options(peer));
  REQUIRE_FALSE(r.error);
  CHECK(r.call_like.lifetime_min_s() == 50);
  CHECK_FALSE(r.call_like.lifetime_max_s().has_value());
  CHECK(r.single.range() == "at least 50 s");
}

TEST_CASE("nat_timeout UDP: a responder that loses its timers is a set-up error, never expired") {
  VirtualTime vt;
  asio::io_context io;
  NatResponder peer(io, 300, 300);
  peer.lose_timers_at = std::chrono::seconds(5);
  auto [r, done] = run_ladder(io, vt, peer, options(peer));
  REQUIRE(r.error);
  CHECK(r.error->reason == ErrorReason::setup);
  CHECK(r.error->message.find("restarted") != std::string::npos);
  for (const auto* l : {&r.call_like, &r.single})
    for (const auto& rung : l->rungs) CHECK(rung.outcome != RungOutcome::expired);
}

TEST_CASE("nat_timeout UDP: a restart after the single rungs' packet but before the call-like one's is no expiry") {
  // The call-like rungs ask after their 2.5 s warm-up: their 10 s packet is
  // due at 12.5 s, the single exchange's at 10 s. A restart at 11 s loses the
  // call-like one; the canary asks after every rung, so it loses its 10 s
  // packet too and the call-like rung reads unknown, not expired.
  VirtualTime vt;
  asio::io_context io;
  NatResponder peer(io, 300, 300);
  peer.lose_timers_at = std::chrono::seconds(11);
  auto [r, done] = run_ladder(io, vt, peer, options(peer));
  REQUIRE(r.error);
  CHECK(r.error->reason == ErrorReason::setup);
  using enum RungOutcome;
  CHECK(outcomes(r.single) == std::vector<RungOutcome>{reached, unknown, unknown, unknown, unknown});
  CHECK(outcomes(r.call_like) == std::vector<RungOutcome>{unknown, unknown, unknown, unknown, unknown});
}

TEST_CASE("nat_timeout UDP: a responder that answers at once instead of deferring is a set-up error") {
  VirtualTime vt;
  asio::io_context io;
  NatResponder peer(io, 300, 300);
  auto o = options(peer);
  // An older responder answers every request at once: simulate by a peer that ignores the delay.
  peer.sock.close();
  udp::socket old(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  o.target = old.local_endpoint();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<std::uint8_t, 2048> buf;
        for (;;) {
          udp::endpoint from;
          auto [ec, n] = co_await old.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
          echo::Request req;
          if (echo::decode_request(echo::Bytes(buf.data(), n), "", req) != echo::DecodeError::none) continue;
          echo::Observation seen;
          seen.source = from;
          auto bytes = echo::encode_reply(req, seen, "");
          old.send_to(asio::buffer(bytes), from);
        }
      },
      asio::detached);
  std::optional<nat_timeout::UdpLadderResult> result;
  asio::co_spawn(io, nat_timeout::measure_udp_ladder(io.get_executor(), o),
                 [&](std::exception_ptr e, nat_timeout::UdpLadderResult r) {
                   REQUIRE_FALSE(e);
                   result = std::move(r);
                   old.close();
                 });
  run_io(io);
  REQUIRE(result);
  REQUIRE(result->error);
  CHECK(result->error->reason == ErrorReason::setup);
  CHECK(result->error->message.find("answered at once") != std::string::npos);
}
