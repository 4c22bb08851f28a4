// The STUN client's waits in virtual time: the RFC 5389 retransmission
// schedule and the RFC 5780 discovery, against loopback sockets bound on
// port 0 that stay silent (or answer a script). Every time asserted is exact;
// the 40-second schedule runs in microseconds.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <vector>

#include "checks/stun/nat_behavior.hpp"
#include "checks/stun/stun_client.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks::stun;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::vector<Millis> ms(std::initializer_list<long long> values) {
  std::vector<Millis> out;
  for (auto v : values) out.emplace_back(v);
  return out;
}

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

// A loopback UDP socket that records when each datagram arrived (virtual
// time) and answers with whatever `reply` returns (nothing: silence).
struct Peer {
  using Reply = std::function<std::optional<Bytes>(const Message&, const Endpoint& from)>;
  udp::socket sock;
  std::vector<Millis> arrivals;
  Reply reply;

  Peer(asio::io_context& io, const VirtualTime& vt, udp::endpoint at, Reply r = {})
      : sock(io, at), reply(std::move(r)) {
    asio::co_spawn(io, serve(vt), asio::detached);
  }
  Endpoint endpoint() const { return sock.local_endpoint(); }

  asio::awaitable<void> serve(const VirtualTime& vt) {
    std::array<std::uint8_t, 1500> buf;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, kUseTuple);
      if (ec) co_return;
      arrivals.push_back(since(vt));
      if (!reply) continue;
      auto parsed = parse(ByteView(buf.data(), n));
      if (!parsed) continue;
      if (auto out = reply(*parsed.message, from)) sock.send_to(asio::buffer(*out), from);
    }
  }
};

udp::endpoint loopback(const char* ip = "127.0.0.1", unsigned short port = 0) {
  return {asio::ip::make_address(ip), port};
}

Bytes mapped_answer(const Message& req, const Endpoint& from) {
  return Builder(kBinding, MessageClass::success, req.transaction_id)
      .add_xor_address(attr::xor_mapped_address, from)
      .add_fingerprint()
      .bytes();
}

// Runs udp_exchange from a fresh loopback socket to `to`; closes `peers` after.
struct Run {
  Exchange ex;
  Millis finished{-1};
};
Run exchange_with(asio::io_context& io, const VirtualTime& vt, Endpoint to, Retransmission plan,
                  std::vector<Peer*> peers) {
  Run run;
  udp::socket client(io, loopback());
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        RequestOptions plain;
        run.ex = co_await udp_exchange(client, to, plain, plan);
        run.finished = since(vt);
        for (auto* p : peers) p->sock.close();
      },
      asio::detached);
  run_io(io);
  return run;
}

}  // namespace

TEST_CASE(
    "RFC 5389 schedule to a silent server: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms, gives up at 39500") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  auto run = exchange_with(io, vt, silent.endpoint(), Retransmission{}, {&silent});
  auto expected = ms({0, 500, 1500, 3500, 7500, 15500, 31500});
  CHECK(run.ex.sent_at == expected);
  CHECK(silent.arrivals == expected);  // what the wire saw, not just what the client noted
  CHECK(run.finished == Millis(39500));
  CHECK(run.ex.elapsed == Millis(39500));
  CHECK_FALSE(run.ex.answered);
  CHECK(run.ex.failed == Operation::receive);
  CHECK_FALSE(run.ex.failure);  // silence is not a socket error
  CHECK(run.ex.error == "no answer to 7 request(s) within 39500 ms");
}

TEST_CASE("a closed port: the first ICMP port unreachable ends the exchange at 0 ms after one request") {
  VirtualTime vt;
  asio::io_context io;
  Endpoint closed;
  {
    udp::socket probe(io, loopback());  // a port that was free a moment ago; nothing listens once closed
    closed = probe.local_endpoint();
  }
  auto run = exchange_with(io, vt, closed, Retransmission{}, {});
  CHECK(run.ex.sent_at == ms({0}));
  CHECK(run.finished == Millis(0));  // not 39500: the schedule is not waited out
  CHECK_FALSE(run.ex.answered);
  CHECK(run.ex.failed == Operation::receive);
  REQUIRE(run.ex.failure);
  CHECK(*run.ex.failure == net::NetFailure::refused);
  REQUIRE(run.ex.icmp);
  CHECK(run.ex.icmp->port_unreachable());
  CHECK(run.ex.icmp->destination == closed);
  REQUIRE(run.ex.icmp->offender);
  CHECK(run.ex.icmp->offender->to_string() == "127.0.0.1");
  CHECK(run.ex.error == "ICMP port unreachable from 127.0.0.1");
}

TEST_CASE("the budget cuts the schedule: 2700 ms allows the sends at 0, 500 and 1500 ms, and ends at 2700") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  Retransmission plan;
  plan.budget = Millis(2700);
  auto run = exchange_with(io, vt, silent.endpoint(), plan, {&silent});
  CHECK(silent.arrivals == ms({0, 500, 1500}));
  CHECK(run.finished == Millis(2700));
  CHECK(run.ex.error == "no answer to 3 request(s) within 2700 ms");
}

TEST_CASE("two lost requests: the third (1500 ms) is answered, the RTT counts from the first send") {
  VirtualTime vt;
  asio::io_context io;
  int seen = 0;
  Peer lossy(io, vt, loopback(), [&](const Message& req, const Endpoint& from) -> std::optional<Bytes> {
    if (++seen < 3) return std::nullopt;
    return mapped_answer(req, from);
  });
  auto lossy_port = lossy.endpoint().port();
  auto run = exchange_with(io, vt, lossy.endpoint(), Retransmission{}, {&lossy});
  REQUIRE(run.ex.answered);
  CHECK(run.ex.sent_at == ms({0, 500, 1500}));
  CHECK(run.ex.rtt_ms == 1500.0);
  CHECK(run.finished == Millis(1500));
  CHECK(run.ex.responder.port() == lossy_port);
}

TEST_CASE("junk is not an answer: the schedule runs on and the last reason is kept") {
  VirtualTime vt;
  asio::io_context io;
  Peer junk(io, vt, loopback(), [](const Message& req, const Endpoint&) -> std::optional<Bytes> {
    auto b = Builder(kBinding, MessageClass::success, req.transaction_id).add_fingerprint().bytes();
    b.back() ^= 0x5a;  // a corrupted FINGERPRINT
    return b;
  });
  Retransmission plan;
  plan.budget = Millis(1000);
  auto run = exchange_with(io, vt, junk.endpoint(), plan, {&junk});
  CHECK_FALSE(run.ex.answered);
  CHECK(run.ex.failed == Operation::parse);
  CHECK(run.ex.junk.find("FINGERPRINT") != std::string::npos);
  CHECK(run.finished == Millis(1000));
}

namespace {

// An RFC 5780 server on loopback whose primary (127.0.0.1:P) answers plain
// Binding requests and drops every CHANGE-REQUEST (what an
// address-and-port-dependent filter shows), and whose alternate address
// 127.0.0.2:P answers plain requests (`alt_answers`) or is silent; discovery
// runs with `plan` and a 60 s deadline.
struct Discovery {
  NatBehaviour result;
  Millis finished{-1};
  std::vector<Millis> primary_arrivals, alt_arrivals;
};
Discovery discover_filtered(VirtualTime& vt, DiscoveryPlan plan, bool alt_answers) {
  asio::io_context io;
  auto answer_plain = [](const Message& req, const Endpoint& from) -> std::optional<Bytes> {
    if (req.find(attr::change_request)) return std::nullopt;
    return mapped_answer(req, from);
  };
  std::vector<std::unique_ptr<Peer>> primaries;  // kept alive: their loops still run
  std::unique_ptr<Peer> alt_ip;
  for (int attempt = 0; attempt < 20 && !alt_ip; ++attempt) {
    primaries.push_back(std::make_unique<Peer>(io, vt, loopback(), answer_plain));
    try {
      auto at = loopback("127.0.0.2", primaries.back()->endpoint().port());
      alt_ip = alt_answers ? std::make_unique<Peer>(io, vt, at, answer_plain) : std::make_unique<Peer>(io, vt, at);
    } catch (const boost::system::system_error&) {  // that port is taken on 127.0.0.2: another one
    }
  }
  REQUIRE(alt_ip);
  Peer* primary = primaries.back().get();
  Endpoint other(asio::ip::make_address("127.0.0.2"), static_cast<unsigned short>(primary->endpoint().port() + 1));
  Discovery d;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto deadline = Clock::now() + Millis(60000);
        auto local = asio::ip::make_address("127.0.0.1");
        d.result = co_await discover(local, primary->endpoint(), other, deadline, plan);
        d.finished = since(vt);
        for (auto& p : primaries) p->sock.close();
        alt_ip->sock.close();
      },
      asio::detached);
  run_io(io);
  d.primary_arrivals = primary->arrivals;
  d.alt_arrivals = alt_ip->arrivals;
  return d;
}

}  // namespace

TEST_CASE("RFC 5780 discovery timing: a silent alternate address and filtered CHANGE-REQUESTs") {
  VirtualTime vt;
  auto d = discover_filtered(vt, DiscoveryPlan{}, false);
  // Mapping: test I answered at 0; test II to the silent 127.0.0.2 sends at
  // 0, 500, 1500, 3500 ms and gives up at 5500.
  CHECK(d.alt_arrivals == ms({0, 500, 1500, 3500}));
  CHECK(d.result.mapping.behaviour == Behaviour::unknown);
  CHECK(d.result.mapping.text().rfind("unknown: test II to 127.0.0.2:", 0) == 0);
  CHECK(d.result.mapping.unknown_because.find("within 5500 ms") != std::string::npos);
  // Filtering, at the same time on sockets of its own: two sockets do test I
  // at 0, then tests II and III wait out their silence together: sends at 0,
  // 500, 1500, give up at 3500.
  CHECK(d.result.filtering.behaviour == Behaviour::address_and_port_dependent);
  CHECK(d.result.filtering.evidence == "no answer from another IP (3 requests) nor from another port (3 requests)");
  std::vector<Millis> expected_primary = ms({0, 0, 0, 0, 0, 500, 500, 1500, 1500});
  CHECK(d.primary_arrivals == expected_primary);
  CHECK(d.finished == Millis(5500));  // the longer of the two, not their sum (9000 when one after the other)
}

TEST_CASE("RFC 5780 waits from the measured RTT: silence decided after max(4 x RTT, about 250 ms)") {
  auto fast = discovery_plan_for_rtt(0.4);
  CHECK(fast.silence_likely.rto == Millis(63));
  CHECK(fast.silence_likely.budget == Millis(252));
  auto slow = discovery_plan_for_rtt(99.2);
  CHECK(slow.silence_likely.rto == Millis(100));
  CHECK(slow.silence_likely.budget == Millis(400));
  CHECK(slow.expect_answer.budget == DiscoveryPlan{}.expect_answer.budget);  // answers: loss still needs retries

  // The alternate address answers: endpoint-independent mapping at once; the
  // filtered CHANGE-REQUESTs are sent at 0, 100 and 300 ms and given up at 400.
  VirtualTime vt;
  auto d = discover_filtered(vt, slow, true);
  CHECK(d.result.mapping.behaviour == Behaviour::endpoint_independent);
  CHECK(d.result.filtering.behaviour == Behaviour::address_and_port_dependent);
  std::vector<Millis> expected_primary = ms({0, 0, 0, 0, 0, 100, 100, 300, 300});
  CHECK(d.primary_arrivals == expected_primary);
  CHECK(d.alt_arrivals == ms({0}));
  CHECK(d.finished == Millis(400));  // before: 9000 ms with the fixed schedules, one test after the other
}

TEST_CASE("RFC 5780 discovery: too little time left for silence is unknown, not a guess") {
  VirtualTime vt;
  asio::io_context io;
  Peer primary(io, vt, loopback(), [](const Message& req, const Endpoint& from) -> std::optional<Bytes> {
    return mapped_answer(req, from);  // ignores CHANGE-REQUEST, answers from the primary
  });
  NatBehaviour result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto deadline = Clock::now() + Millis(3000);  // less than the 3500 ms silence needs
        auto local = asio::ip::make_address("127.0.0.1");
        // OTHER-ADDRESS names the primary's own IP: test II answers at once.
        Endpoint other(local, static_cast<unsigned short>(primary.endpoint().port() + 1));
        DiscoveryPlan plan;
        result = co_await discover(local, primary.endpoint(), other, deadline, plan);
        primary.sock.close();
      },
      asio::detached);
  run_io(io);
  CHECK(result.mapping.behaviour == Behaviour::endpoint_independent);
  CHECK(result.filtering.text() == "unknown: not enough time left to wait for filtered answers");
  CHECK(vt.elapsed() == Millis(0));
}
