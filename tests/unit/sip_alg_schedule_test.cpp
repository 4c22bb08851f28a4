// The SIP ALG check's UDP retransmissions in virtual time, against loopback
// sockets bound on port 0 that stay silent or answer a script: every time
// asserted is exact, and the schedule runs in microseconds. With an RTT to the
// mirror's address in the scan's store (net::path_rtt), silence is waited out
// for max(4 x RTT, 250 ms) instead of the per-request timeout.
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
#include "probe/net/path_rtt.hpp"

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

namespace {

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

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

TEST_CASE("an RTT of 100 ms known: copies at 0, 100, 300, silence given up at 400 ms, not the timeout") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(100));
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"INVITE", "REGISTER"}, Millis(2000));
  CHECK(silent.arrivals == ms({0, 100, 300, 400, 500, 700}));
  CHECK(run.finished == Millis(800));
  REQUIRE(run.exchanges.size() == 2);
  for (const auto& e : run.exchanges) {
    CHECK(e.outcome == Outcome::no_response);
    REQUIRE(e.silence);
    CHECK(e.silence->basis == net::WaitBasis::rtt);
    CHECK(e.silence->wait == Millis(400));
    CHECK(e.silence->rtt_ms == doctest::Approx(100));
  }
}

TEST_CASE("an RTT known: the rule is bounded by the per-request timeout") {
  VirtualTime vt;
  asio::io_context io;
  net::path_rtt(io.get_executor()).record(kLoopback, Millis(500));  // 4 x 500 ms > 600 ms
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"OPTIONS"}, Millis(600));
  CHECK(silent.arrivals == ms({0, 150, 450}));
  CHECK(run.finished == Millis(600));
  REQUIRE(run.exchanges.size() == 1);
  REQUIRE(run.exchanges[0].silence);
  CHECK(run.exchanges[0].silence->basis == net::WaitBasis::rtt);
  CHECK(run.exchanges[0].silence->wait == Millis(600));
}

TEST_CASE("no RTT known: silence is the timeout, basis timeout") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"OPTIONS"}, Millis(600));
  REQUIRE(run.exchanges.size() == 1);
  REQUIRE(run.exchanges[0].silence);
  CHECK(run.exchanges[0].silence->basis == net::WaitBasis::timeout);
  CHECK(run.exchanges[0].silence->wait == Millis(600));
  CHECK_FALSE(run.exchanges[0].silence->rtt_ms);
}

TEST_CASE("an RTT recorded during the wait re-plans it from the start: 50 ms learnt at 100 ms ends it at 250 ms") {
  VirtualTime vt;
  asio::io_context io;
  record_at(io, Millis(100), Millis(50));
  Peer silent(io, vt);
  auto run = run_udp(io, vt, silent, {"OPTIONS"}, Millis(2000));
  // The new rule's first copy (62 ms) is overdue at once, its second at 186 ms.
  CHECK(silent.arrivals == ms({0, 100, 186}));
  CHECK(run.finished == Millis(250));
  REQUIRE(run.exchanges.size() == 1);
  REQUIRE(run.exchanges[0].silence);
  CHECK(run.exchanges[0].silence->basis == net::WaitBasis::rtt);
  CHECK(run.exchanges[0].silence->wait == Millis(250));
}

TEST_CASE("Karn: an answer to the first copy is an RTT sample, one after a retransmission is not") {
  VirtualTime vt;
  {
    asio::io_context io;
    Peer prompt(io, vt, [](int) { return true; });
    auto run = run_udp(io, vt, prompt, {"OPTIONS"}, Millis(2000));
    REQUIRE(run.exchanges.size() == 1);
    CHECK(run.exchanges[0].outcome == Outcome::mirrored);
    CHECK(net::path_rtt(io.get_executor()).samples(kLoopback) == 1);
  }
  {
    asio::io_context io;
    Peer lossy(io, vt, [](int n) { return n == 2; });
    auto run = run_udp(io, vt, lossy, {"OPTIONS"}, Millis(2000));
    REQUIRE(run.exchanges.size() == 1);
    CHECK(run.exchanges[0].outcome == Outcome::mirrored);
    CHECK(run.exchanges[0].rtt_ms == doctest::Approx(250));
    CHECK(net::path_rtt(io.get_executor()).samples(kLoopback) == 0);
  }
}
