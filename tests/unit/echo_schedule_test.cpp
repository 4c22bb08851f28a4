// The schedules of the echo-probe kinds in virtual time, against loopback
// sockets bound on port 0 that read every datagram and never answer:
// udp_range's pacing and retry rounds (reply_wait x1, x2, x4) and pmtu's
// probes (three tries of the baseline, then two of the ceiling). Every time
// asserted is exact; seconds of waiting run in microseconds.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <vector>

#include "checks/pmtu/pmtu_search.hpp"
#include "checks/udp_range/udp_sweep.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

std::vector<Millis> ms(std::initializer_list<long long> values) {
  std::vector<Millis> out;
  for (auto v : values) out.emplace_back(v);
  return out;
}

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

// A loopback UDP port that notes when (virtual time) and how big each
// datagram was, and never answers: no reply, no ICMP.
struct SilentPeer {
  udp::socket sock;
  std::vector<Millis> arrivals;
  std::vector<std::size_t> sizes;

  SilentPeer(asio::io_context& io, const VirtualTime& vt)
      : sock(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, read(vt), asio::detached);
  }
  std::uint16_t port() const { return sock.local_endpoint().port(); }

  asio::awaitable<void> read(const VirtualTime& vt) {
    std::array<std::uint8_t, 9000> buf;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      arrivals.push_back(since(vt));
      sizes.push_back(n);
    }
  }
};

// Runs `work` to completion in virtual time, then closes the peers so that
// the io_context runs out of work; returns its result and when it finished.
template <class T>
std::pair<T, Millis> run_virtual(asio::io_context& io, const VirtualTime& vt, asio::awaitable<T> work,
                                 std::vector<std::unique_ptr<SilentPeer>>& peers) {
  std::optional<T> result;
  Millis done{0};
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    REQUIRE_FALSE(e);
    result = std::move(value);
    done = since(vt);
    for (auto& p : peers) p->sock.close();
  });
  run_io(io);
  REQUIRE(result);
  return {std::move(*result), done};
}

}  // namespace

TEST_CASE("udp_range: paced first round, then retries after 1x, 2x, 4x reply_wait, and silence is blocked") {
  VirtualTime vt;
  asio::io_context io;
  std::vector<std::unique_ptr<SilentPeer>> peers;
  for (int i = 0; i < 4; ++i) peers.push_back(std::make_unique<SilentPeer>(io, vt));
  SweepOptions so;
  so.target = asio::ip::make_address("127.0.0.1");
  for (const auto& p : peers) so.ports.push_back(p->port());
  std::sort(so.ports.begin(), so.ports.end());
  std::sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) { return a->port() < b->port(); });
  so.max_pps = 100;  // one probe every 10 ms
  so.attempts = 3;
  so.max_attempts = 8;
  so.reply_wait = Millis(500);
  so.deadline = Clock::now() + std::chrono::seconds(60);

  auto [r, done] = run_virtual(io, vt, udp_sweep(io.get_executor(), so), peers);
  CHECK_FALSE(r.error);
  CHECK(r.rounds == 3);  // no loss seen on open ports: no rounds beyond `attempts`
  CHECK(r.probes_sent == 12);
  CHECK_FALSE(r.cut_short);
  for (const auto& pr : r.ports) {
    CHECK(pr.state == PortResult::State::blocked);
    CHECK(pr.attempts == 3);
  }
  // Round 1 paced at 10 ms; it ends 500 ms after its last probe (30 ms); the
  // next rounds go out at once (their slots are past) and wait 1000, 2000 ms.
  CHECK(peers[0]->arrivals == ms({0, 530, 1530}));
  CHECK(peers[1]->arrivals == ms({10, 530, 1530}));
  CHECK(peers[3]->arrivals == ms({30, 530, 1530}));
  CHECK(done >= Millis(3530));
  CHECK(done <= Millis(3532));  // the receivers' teardown: a millisecond
}

TEST_CASE("udp_range: the deadline ends the sweep early, and nothing is sent after it") {
  VirtualTime vt;
  asio::io_context io;
  std::vector<std::unique_ptr<SilentPeer>> peers;
  peers.push_back(std::make_unique<SilentPeer>(io, vt));
  SweepOptions so;
  so.target = asio::ip::make_address("127.0.0.1");
  so.ports = {peers[0]->port()};
  so.reply_wait = Millis(500);
  so.deadline = Clock::now() + Millis(1000);
  auto [r, done] = run_virtual(io, vt, udp_sweep(io.get_executor(), so), peers);
  CHECK(r.cut_short);
  CHECK(r.rounds == 2);  // the third round's probe was due at the deadline: not sent
  CHECK(r.probes_sent == 2);
  CHECK(peers[0]->arrivals == ms({0, 500}));
  CHECK(r.ports[0].state == PortResult::State::blocked);  // probed, never answered
  CHECK(done >= Millis(1000));
  CHECK(done <= Millis(1002));
}

TEST_CASE("pmtu: against silence, three tries of the baseline, then two of the ceiling") {
  VirtualTime vt;
  asio::io_context io;
  std::vector<std::unique_ptr<SilentPeer>> peers;
  peers.push_back(std::make_unique<SilentPeer>(io, vt));
  pmtu::SearchOptions so;
  so.target = udp::endpoint(asio::ip::make_address("127.0.0.1"), peers[0]->port());
  so.max_mtu = 1500;

  SUBCASE("the default 1 s per probe") {
    auto [s, done] = run_virtual(io, vt, pmtu::search_path_mtu(so), peers);
    CHECK_FALSE(s.error);
    CHECK(s.method == "icmp_hint_only");
    CHECK_FALSE(s.path_mtu);
    CHECK(s.probes_sent == 5);
    CHECK(peers[0]->arrivals == ms({0, 1000, 2000, 3000, 4000}));
    // UDP payloads: IP sizes 576 and 1500 less 28 bytes of IPv4 + UDP headers.
    CHECK(peers[0]->sizes == std::vector<std::size_t>{548, 548, 548, 1472, 1472});
    CHECK(done == Millis(5000));
    REQUIRE(s.tested.size() == 2);
    CHECK(s.tested[0].size == 576);
    CHECK(s.tested[0].result == "lost");
    CHECK(s.tested[1].size == 1500);
  }
  SUBCASE("probe_timeout_ms") {
    so.timeout = Millis(50);
    auto [s, done] = run_virtual(io, vt, pmtu::search_path_mtu(so), peers);
    CHECK(peers[0]->arrivals == ms({0, 50, 100, 150, 200}));
    CHECK(done == Millis(250));
  }
  SUBCASE("the budget ends the search") {
    so.budget = Millis(1500);
    auto [s, done] = run_virtual(io, vt, pmtu::search_path_mtu(so), peers);
    CHECK(peers[0]->arrivals == ms({0, 1000}));
    CHECK(done == Millis(1500));
  }
}
