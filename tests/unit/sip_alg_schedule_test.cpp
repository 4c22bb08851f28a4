// The SIP ALG check's UDP retransmissions in virtual time, against loopback
// sockets bound on port 0 that stay silent or answer a script: every time
// asserted is exact, and the schedule runs in microseconds.
#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <vector>

#include "checks/sip_alg/sip_alg_exchange.hpp"
#include "checks/sip_alg/sip_service.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks::sip_alg;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

std::vector<Millis> ms(std::initializer_list<long long> values) {
  std::vector<Millis> out;
  for (auto v : values) out.emplace_back(v);
  return out;
}

// A loopback SIP peer that notes when each request arrived and answers the
// n-th one (counting from 1) through the real mirror when `answer(n)` says so.
struct Peer {
  udp::socket sock;
  std::vector<Millis> arrivals;
  std::function<bool(int)> answer;

  Peer(asio::io_context& io, const VirtualTime& vt, std::function<bool(int)> a = {})
      : sock(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), answer(std::move(a)) {
    asio::co_spawn(io, serve(vt), asio::detached);
  }

  asio::awaitable<void> serve(const VirtualTime& vt) {
    std::vector<char> buf(65536);
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      std::string_view raw(buf.data(), n);
      if (raw.starts_with("ACK ")) continue;
      arrivals.push_back(since(vt));
      if (!answer || !answer(static_cast<int>(arrivals.size()))) continue;
      auto out = checks::sip_mirror_answer(raw, true, from.address(), from.port());
      sock.send_to(asio::buffer(out), from);
    }
  }
};

struct Run {
  std::vector<Exchange> exchanges;
  Millis finished{-1};
};

Run run_udp(asio::io_context& io, const VirtualTime& vt, Peer& peer, std::vector<std::string> methods, Millis timeout) {
  Run run;
  ChannelSpec c;
  c.remote = peer.sock.local_endpoint().address();
  c.remote_port = peer.sock.local_endpoint().port();
  c.methods = std::move(methods);
  c.timeout = timeout;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        run.exchanges = co_await run_channel(c);
        run.finished = since(vt);
        peer.sock.close();
      },
      asio::detached);
  run_io(io);
  return run;
}

}  // namespace

TEST_CASE("a silent mirror: copies at 0, 250, 750 and 1750 ms, given up at 2000, then the next method") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"INVITE", "REGISTER"}, Millis(2000));
  CHECK(silent.arrivals == ms({0, 250, 750, 1750, 2000, 2250, 2750, 3750}));
  CHECK(run.finished == Millis(4000));
  REQUIRE(run.exchanges.size() == 2);
  for (const auto& e : run.exchanges) {
    CHECK(e.outcome == Outcome::no_response);
    CHECK_FALSE(e.failure);  // silence is not a socket error
    CHECK(e.transport == "udp");
    CHECK(e.requested_port == 0);
  }
  CHECK(run.exchanges[0].method == "INVITE");
  CHECK(run.exchanges[1].method == "REGISTER");
}

TEST_CASE("the per-request timeout cuts the schedule: 600 ms allows the copies at 0 and 250 ms") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"OPTIONS"}, Millis(600));
  CHECK(silent.arrivals == ms({0, 250}));
  CHECK(run.finished == Millis(600));
}

TEST_CASE("two copies lost: the third (750 ms) is mirrored, the RTT counts from the first copy") {
  VirtualTime vt;
  asio::io_context io;
  Peer lossy(io, vt, [](int n) { return n == 3; });
  auto run = run_udp(io, vt, lossy, {"REGISTER"}, Millis(2000));
  CHECK(lossy.arrivals == ms({0, 250, 750}));
  CHECK(run.finished == Millis(750));
  REQUIRE(run.exchanges.size() == 1);
  const auto& e = run.exchanges[0];
  CHECK(e.outcome == Outcome::mirrored);
  CHECK(e.status == 200);
  CHECK(e.rtt_ms == doctest::Approx(750));
  REQUIRE(e.diff);
  CHECK(e.diff->changes.empty());
  CHECK(e.observed_address == "127.0.0.1");
  CHECK_FALSE(e.via_rewritten());
}
