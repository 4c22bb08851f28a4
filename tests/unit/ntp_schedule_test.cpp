// The SNTP client's schedule in virtual time, against loopback sockets bound
// on port 0 that stay silent or answer a script: when silence is called with
// no RTT known (Schedule::silence) and with one in the scan's store
// (net::path_rtt: max(4 x RTT, 250 ms), the second request halfway), and
// which replies become RTT samples. Every time asserted is exact.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <vector>

#include "checks/ntp/ntp_client.hpp"
#include "checks/ntp/ntp_codec.hpp"
#include "probe/clock.hpp"
#include "probe/net/path_rtt.hpp"

using namespace callready;
using namespace callready::checks::ntp;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

std::vector<Millis> ms(std::initializer_list<long long> values) {
  std::vector<Millis> out;
  for (auto v : values) out.emplace_back(v);
  return out;
}

// A loopback NTP server that notes when each request arrived and answers the
// n-th one (counting from 1) with a stratum 2 sample when `answer(n)` says so.
struct Peer {
  udp::socket sock;
  std::vector<Millis> arrivals;
  std::function<bool(int)> answer;

  Peer(asio::io_context& io, const VirtualTime& vt, std::function<bool(int)> a = {})
      : sock(io, udp::endpoint(kLoopback, 0)), answer(std::move(a)) {
    asio::co_spawn(io, serve(vt), asio::detached);
  }

  asio::awaitable<void> serve(const VirtualTime& vt) {
    std::array<std::uint8_t, 1024> buf;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      arrivals.push_back(since(vt));
      if (!answer || !answer(static_cast<int>(arrivals.size()))) continue;
      auto request = parse(ByteView(buf.data(), n));
      if (!request) continue;
      Packet reply;
      reply.mode = Mode::server;
      reply.stratum = 2;
      reply.origin = request.packet->transmit;
      reply.receive = reply.transmit = system_now();
      auto bytes = encode(reply);
      sock.send_to(asio::buffer(bytes), from);
    }
  }
};

struct Run {
  Exchange exchange;
  Millis finished{-1};
};

Run run_sntp(asio::io_context& io, const VirtualTime& vt, Peer& peer, Schedule plan = {}) {
  Run run;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        udp::socket sock(io, udp::v4());
        Endpoint server = peer.sock.local_endpoint();
        WallClock wall = &system_now;
        run.exchange = co_await sntp_exchange(sock, server, plan, wall);
        run.finished = since(vt);
        peer.sock.close();
      },
      asio::detached);
  run_io(io);
  return run;
}

// Records `rtt` to 127.0.0.1 in the scan's store at `at` (virtual time), as
// another check answering meanwhile would.
void record_at(asio::io_context& io, Millis at, Millis rtt) {
  asio::co_spawn(
      io,
      [&io, at, rtt]() -> asio::awaitable<void> {
        Timer t(io);
        t.expires_after(at);
        co_await t.async_wait(asio::use_awaitable);
        net::path_rtt(io.get_executor()).record(kLoopback, rtt);
      },
      asio::detached);
}

}  // namespace

TEST_CASE("no RTT known: requests at 0 and 2000 ms, silence called at 2500 ms, basis timeout") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt);
  auto run = run_sntp(io, vt, silent);
  CHECK(silent.arrivals == ms({0, 2000}));
  CHECK(run.finished == Millis(2500));
  CHECK_FALSE(run.exchange.answered());
  REQUIRE(run.exchange.silence);
  CHECK(run.exchange.silence->basis == net::WaitBasis::timeout);
  CHECK(run.exchange.silence->wait == Millis(2500));
}

TEST_CASE("an RTT of 100 ms known: the second request at 200 ms, silence called at 400 ms") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(100));
  Peer silent(io, vt);
  auto run = run_sntp(io, vt, silent);
  CHECK(silent.arrivals == ms({0, 200}));
  CHECK(run.finished == Millis(400));
  REQUIRE(run.exchange.silence);
  CHECK(run.exchange.silence->basis == net::WaitBasis::rtt);
  CHECK(run.exchange.silence->wait == Millis(400));
  CHECK(run.exchange.silence->rtt_ms == doctest::Approx(100));
  CHECK(run.exchange.error.find("within 400 ms (from the 100.0 ms RTT") != std::string::npos);
}

TEST_CASE("an RTT known: the rule never waits longer than Schedule::silence") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(900));  // 4 x 900 ms > 2500 ms
  Peer silent(io, vt);
  auto run = run_sntp(io, vt, silent);
  CHECK(silent.arrivals == ms({0, 1250}));
  CHECK(run.finished == Millis(2500));
  REQUIRE(run.exchange.silence);
  CHECK(run.exchange.silence->basis == net::WaitBasis::rtt);
  CHECK(run.exchange.silence->wait == Millis(2500));
}

TEST_CASE("an RTT recorded during the wait re-plans it from the start: 50 ms learnt at 100 ms ends it at 250 ms") {
  VirtualTime vt;
  asio::io_context io;
  record_at(io, Millis(100), Millis(50));
  Peer silent(io, vt);
  auto run = run_sntp(io, vt, silent);
  CHECK(silent.arrivals == ms({0, 125}));
  CHECK(run.finished == Millis(250));
  REQUIRE(run.exchange.silence);
  CHECK(run.exchange.silence->basis == net::WaitBasis::rtt);
}

TEST_CASE("an answered exchange keeps the iburst spacing and records each reply's RTT") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(0));  // a 250 ms rule: no effect once answered
  Peer server(io, vt, [](int) { return true; });
  auto run = run_sntp(io, vt, server);
  CHECK(server.arrivals == ms({0, 2000, 4000, 6000}));
  CHECK(run.exchange.replies.size() == 4);
  CHECK_FALSE(run.exchange.silence);
  CHECK(net::path_rtt(io.get_executor()).samples(kLoopback) == 5);
}

TEST_CASE("the first request lost: the second, halfway, is answered and nothing is silence") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(100));
  Peer lossy(io, vt, [](int n) { return n > 1; });
  Schedule plan;
  plan.samples = 2;
  auto run = run_sntp(io, vt, lossy, plan);
  CHECK(lossy.arrivals == ms({0, 200}));
  REQUIRE(run.exchange.replies.size() == 1);
  CHECK(run.exchange.replies[0].request == 1);
  CHECK_FALSE(run.exchange.silence);
  CHECK(run.exchange.failed == Operation::none);
}
