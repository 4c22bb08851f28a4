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
#include "probe/net/path_rtt.hpp"

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
  // Karn: after a retransmission the sample is ambiguous, so no RTT is recorded.
  CHECK(net::path_rtt(io.get_executor()).samples(loopback().address()) == 0);
}

TEST_CASE("an answer to the first request records its RTT for the scan's silence waits") {
  VirtualTime vt;
  asio::io_context io;
  Peer answering(io, vt, loopback(), [](const Message& req, const Endpoint& from) -> std::optional<Bytes> {
    return mapped_answer(req, from);
  });
  auto run = exchange_with(io, vt, answering.endpoint(), Retransmission{}, {&answering});
  REQUIRE(run.ex.answered);
  auto& paths = net::path_rtt(io.get_executor());
  CHECK(paths.samples(loopback().address()) == 1);
  CHECK(paths.rtt(loopback().address()) == Clock::duration::zero());  // virtual time: at once
}

namespace {

// A silent peer, an exchange that takes its silence from the path's RTT, and
// `learn` run alongside it (records RTTs, in virtual time).
Run silence_from_rtt(VirtualTime& vt, asio::io_context& io, Peer& silent,
                     std::function<asio::awaitable<void>()> learn) {
  Retransmission plan;
  plan.budget = Millis(18000);
  plan.silence_from_rtt = true;
  if (learn) asio::co_spawn(io, learn(), asio::detached);
  return exchange_with(io, vt, silent.endpoint(), plan, {&silent});
}

// Another check's answer from `to`: an RTT of `rtt`, recorded `after` into the exchange.
std::function<asio::awaitable<void>()> rtt_recorded(asio::ip::address to, Millis after, Millis rtt) {
  return [=]() -> asio::awaitable<void> {
    Timer t(co_await asio::this_coro::executor);
    t.expires_after(after);
    co_await t.async_wait(asio::use_awaitable);
    net::path_rtt(co_await asio::this_coro::executor).record(to, rtt);
  };
}

}  // namespace

TEST_CASE("silence from the path's RTT: 100 ms known, sends at 0, 100, 300 ms, silence after 400 ms") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  net::path_rtt(io.get_executor()).record(silent.endpoint().address(), Millis(100));
  auto run = silence_from_rtt(vt, io, silent, {});
  CHECK(silent.arrivals == ms({0, 100, 300}));
  CHECK(run.finished == Millis(400));
  CHECK(run.ex.error == "no answer to 3 request(s) within 400 ms");
  REQUIRE(run.ex.silence);
  CHECK(run.ex.silence->basis == net::WaitBasis::rtt);
  CHECK(run.ex.silence->wait == Millis(400));
  CHECK(run.ex.silence->rtt_ms == 100.0);
}

TEST_CASE("silence from the path's RTT: a fast path waits the 250 ms floor, sends at 0, 62, 186 ms") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  net::path_rtt(io.get_executor()).record(silent.endpoint().address(), std::chrono::microseconds(400));
  auto run = silence_from_rtt(vt, io, silent, {});
  CHECK(silent.arrivals == ms({0, 62, 186}));
  CHECK(run.finished == Millis(250));
  REQUIRE(run.ex.silence);
  CHECK(run.ex.silence->wait == Millis(250));
}

TEST_CASE("silence with no RTT known: the RFC 5389 schedule within the budget, basis timeout") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  auto run = silence_from_rtt(vt, io, silent, {});
  CHECK(silent.arrivals == ms({0, 500, 1500, 3500, 7500, 15500}));
  CHECK(run.finished == Millis(18000));
  REQUIRE(run.ex.silence);
  CHECK(run.ex.silence->basis == net::WaitBasis::timeout);
  CHECK(run.ex.silence->wait == Millis(18000));
}

TEST_CASE("an RTT recorded while waiting cuts the wait short, counted from the exchange's start") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  // Another check's answer arrives 50 ms in: RTT 100 ms, so silence after 400 ms.
  auto run = silence_from_rtt(vt, io, silent, rtt_recorded(silent.endpoint().address(), Millis(50), Millis(100)));
  CHECK(silent.arrivals == ms({0, 100, 300}));
  CHECK(run.finished == Millis(400));
  REQUIRE(run.ex.silence);
  CHECK(run.ex.silence->basis == net::WaitBasis::rtt);
}

TEST_CASE("an RTT recorded after its rule's wait has passed ends the wait at once") {
  VirtualTime vt;
  asio::io_context io;
  Peer silent(io, vt, loopback());
  auto run = silence_from_rtt(vt, io, silent, rtt_recorded(silent.endpoint().address(), Millis(1000), Millis(100)));
  CHECK(silent.arrivals == ms({0, 500}));  // the RFC 5389 sends until then; none after
  CHECK(run.finished == Millis(1000));
  REQUIRE(run.ex.silence);
  CHECK(run.ex.silence->wait == Millis(400));
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
Discovery discover_filtered(VirtualTime& vt, DiscoveryPlan plan, bool alt_answers,
                            std::optional<Clock::duration> known_rtt = std::nullopt) {
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
  if (known_rtt) net::path_rtt(io.get_executor()).record(primary->endpoint().address(), *known_rtt);
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
  DiscoveryPlan plan;
  plan.silence_likely.silence_from_rtt = false;  // turnutils_natdiscovery's fixed schedule
  auto d = discover_filtered(vt, plan, false);
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
  REQUIRE(d.result.filtering.silence);
  CHECK(d.result.filtering.silence->basis == net::WaitBasis::timeout);
  CHECK(d.result.filtering.silence->wait == Millis(3500));
  std::vector<Millis> expected_primary = ms({0, 0, 0, 0, 0, 500, 500, 1500, 1500});
  CHECK(d.primary_arrivals == expected_primary);
  CHECK(d.finished == Millis(5500));  // the longer of the two, not their sum (9000 when one after the other)
}

TEST_CASE("RFC 5780 filtering waits from the path's RTT: max(4 x RTT, 250 ms) via net::path_rtt") {
  // The alternate address answers: endpoint-independent mapping at once. The
  // filtered CHANGE-REQUESTs: with 99.2 ms known to the primary, silence after
  // ceil(4 x 99.2) = 397 ms, sends at 0, 99 and 297 ms.
  VirtualTime vt;
  auto d = discover_filtered(vt, DiscoveryPlan{}, true, std::chrono::microseconds(99200));
  CHECK(d.result.mapping.behaviour == Behaviour::endpoint_independent);
  CHECK(d.result.filtering.behaviour == Behaviour::address_and_port_dependent);
  std::vector<Millis> expected_primary = ms({0, 0, 0, 0, 0, 99, 99, 297, 297});
  CHECK(d.primary_arrivals == expected_primary);
  CHECK(d.alt_arrivals == ms({0}));
  CHECK(d.finished == Millis(397));  // before: 9000 ms with the fixed schedules, one test after the other
  REQUIRE(d.result.filtering.silence);
  CHECK(d.result.filtering.silence->basis == net::WaitBasis::rtt);
  CHECK(d.result.filtering.silence->wait == Millis(397));
  CHECK(d.result.filtering.silence->rtt_ms == doctest::Approx(99.2));
}

TEST_CASE("RFC 5780 filtering with nothing recorded before: test I's own answer is the path's RTT") {
  // At once in virtual time, so the 250 ms floor: sends at 0, 62 and 186 ms.
  VirtualTime vt;
  auto fast = discover_filtered(vt, DiscoveryPlan{}, true);
  CHECK(fast.result.filtering.behaviour == Behaviour::address_and_port_dependent);
  std::vector<Millis> expected_fast = ms({0, 0, 0, 0, 0, 62, 62, 186, 186});
  CHECK(fast.primary_arrivals == expected_fast);
  CHECK(fast.finished == Millis(250));
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
        // Less than the 250 ms silence needs (test I's answer is the path's RTT: the floor).
        auto deadline = Clock::now() + Millis(200);
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
