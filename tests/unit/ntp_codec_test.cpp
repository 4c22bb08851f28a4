// The NTP codec (RFC 5905 §6-§8): timestamp and era math, the wire layout,
// a careful client's reply checks, malformed and fuzz-shaped input; and the
// SNTP client's schedule in virtual time against loopback peers.
#include "checks/ntp/ntp_codec.hpp"

#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <random>

#include "checks/ntp/ntp_client.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks::ntp;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// A server reply to `nonce`, as RFC 5905 §7.3 lays it out.
Packet reply_to(Timestamp nonce, Timestamp receive, Timestamp transmit) {
  Packet p;
  p.leap = Leap::none;
  p.version = 4;
  p.mode = Mode::server;
  p.stratum = 2;
  p.precision = -20;
  p.root_delay = 0x00000c00;       // 46.875 ms
  p.root_dispersion = 0x00000200;  // 7.8125 ms
  p.reference_id = 0xc0000201;     // 192.0.2.1
  p.reference = receive;
  p.origin = nonce;
  p.receive = receive;
  p.transmit = transmit;
  return p;
}

}  // namespace

TEST_CASE("timestamps: the Unix epoch is NTP second 2208988800 (0x83AA7E80), fractions in 2^-32 s") {
  auto t = from_unix_ns(0);
  CHECK(t.seconds == 0x83AA7E80u);
  CHECK(t.fraction == 0);
  auto half = from_unix_ns(kSecond / 2);
  CHECK(half.fraction == 0x80000000u);
  auto quarter = from_unix_ns(1'000'000'000LL * 1'700'000'000 + kSecond / 4);
  CHECK(quarter.seconds == 1'700'000'000u + 2208988800u);
  CHECK(quarter.fraction == 0x40000000u);
  // 1 ns is 4.29 units of 2^-32 s: rounded to 4.
  CHECK(from_unix_ns(1).fraction == 4);
  CHECK(to_unix_ns(quarter, 1'700'000'000LL * kSecond) == 1'700'000'000LL * kSecond + kSecond / 4);
}

TEST_CASE("era math: 2036-02-07T06:28:16Z wraps the seconds field, the pivot picks the era") {
  // NTP era 1 starts at Unix 2085978496 (2^32 - 2208988800).
  const std::int64_t era1 = 2085978496;
  auto wrap = from_unix_ns(era1 * kSecond);
  CHECK(wrap.seconds == 0);
  CHECK(wrap.fraction == 0);
  auto before = from_unix_ns((era1 - 1) * kSecond);
  CHECK(before.seconds == 0xFFFFFFFFu);
  // Resolved against a clock on either side of the boundary.
  CHECK(to_unix_ns(wrap, (era1 - 100) * kSecond) == era1 * kSecond);
  CHECK(to_unix_ns(before, (era1 + 100) * kSecond) == (era1 - 1) * kSecond);
  // A 1968 pivot keeps era 0; 2100 puts seconds 0x83AA7E80 in era 1.
  CHECK(to_unix_ns(from_unix_ns(0), -kSecond * 86400 * 365) == 0);
  auto t2100 = std::int64_t{4102444800};  // 2100-01-01
  CHECK(to_unix_ns(from_unix_ns(t2100 * kSecond), t2100 * kSecond) == t2100 * kSecond);
  // Differences are era-independent: 1 s across the wrap is +1 s, not -136 years.
  CHECK(seconds_between(wrap, before) == doctest::Approx(1.0));
  CHECK(seconds_between(before, wrap) == doctest::Approx(-1.0));
}

TEST_CASE("offset and delay from the four timestamps (RFC 5905 §8)") {
  auto at = [](double s) { return from_unix_ns(1'700'000'000LL * kSecond + static_cast<std::int64_t>(s * 1e9)); };
  // Server 5 ms ahead, 10 ms out, 1 ms processing, 10 ms back.
  auto s = sample_of(at(0), at(0.015), at(0.016), at(0.021));
  CHECK(s.offset_ms == doctest::Approx(5.0).epsilon(1e-6));
  CHECK(s.delay_ms == doctest::Approx(20.0).epsilon(1e-6));
  // Server 2 s behind.
  auto b = sample_of(at(0), at(-1.995), at(-1.994), at(0.012));
  CHECK(b.offset_ms == doctest::Approx(-2000.5).epsilon(1e-6));
  CHECK(b.delay_ms == doctest::Approx(11.0).epsilon(1e-6));
  // A server "processing" longer than the round trip: delay clamps at 0.
  CHECK(sample_of(at(0), at(0), at(0.010), at(0.001)).delay_ms == 0);
  // Across the era boundary: the same numbers.
  const std::int64_t era1 = 2085978496LL * kSecond;
  auto e = [&](double sec) { return from_unix_ns(era1 + static_cast<std::int64_t>(sec * 1e9)); };
  auto w = sample_of(e(-0.010), e(0.005), e(0.006), e(0.011));
  CHECK(w.offset_ms == doctest::Approx(5.0).epsilon(1e-6));
  CHECK(w.delay_ms == doctest::Approx(20.0).epsilon(1e-6));
}

TEST_CASE("wire layout: a client request is 48 bytes, 0x23 (LI 0, VN 4, mode 3), the nonce in transmit") {
  auto req = client_request(Timestamp{0x01020304, 0x05060708});
  REQUIRE(req.size() == kHeaderSize);
  CHECK(req[0] == 0x23);
  for (std::size_t i = 1; i < 40; ++i) CHECK(req[i] == 0);
  CHECK(req[40] == 1);
  CHECK(req[43] == 4);
  CHECK(req[47] == 8);
}

TEST_CASE("wire layout: a hand-built server reply parses field by field") {
  // LI 1 (leap second pending), VN 4, mode 4; stratum 1, poll 6, precision -23;
  // root delay 0.5 s, root dispersion 1/65536 s, refid "GPS\0".
  std::vector<std::uint8_t> b = {0x64, 0x01, 0x06, 0xe9, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01,
                                 'G',  'P',  'S',  0x00, 0xe9, 0x4b, 0x6a, 0x40, 0x00, 0x00, 0x00, 0x00,
                                 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xe9, 0x4b, 0x6a, 0x41,
                                 0x80, 0x00, 0x00, 0x00, 0xe9, 0x4b, 0x6a, 0x41, 0x80, 0x10, 0x00, 0x00};
  auto r = parse(b);
  REQUIRE(r);
  const auto& p = *r.packet;
  CHECK(p.leap == Leap::add_second);
  CHECK(p.version == 4);
  CHECK(p.mode == Mode::server);
  CHECK(p.stratum == 1);
  CHECK(p.poll == 6);
  CHECK(p.precision == -23);
  CHECK(short_format_ms(p.root_delay) == doctest::Approx(500.0));
  CHECK(short_format_ms(p.root_dispersion) == doctest::Approx(1000.0 / 65536));
  CHECK(reference_text(p.reference_id) == "GPS");
  CHECK(p.origin == Timestamp{0x11223344, 0x55667788});
  CHECK(p.receive == Timestamp{0xe94b6a41, 0x80000000});
  CHECK(encode(p) == b);
  auto a = accept_reply(p, Timestamp{0x11223344, 0x55667788});
  REQUIRE(a.kind);
  CHECK(*a.kind == ReplyKind::sample);
  // Extension fields / a MAC after the header are tolerated.
  b.resize(b.size() + 20, 0xaa);
  CHECK(parse(b));
}

TEST_CASE("reference id: text at stratum 0-1, a dotted quad above, unprintable bytes shown as ?") {
  CHECK(reference_text(0x52415445) == "RATE");
  CHECK(reference_text(0x4c4f434c) == "LOCL");
  CHECK(reference_text(0x01ff4100) == "??A");
  CHECK(reference_address(0xc0000201) == "192.0.2.1");
  CHECK(reference_address(0x7f7f0101) == "127.127.1.1");
}

TEST_CASE("malformed and foreign replies are rejected with a reason") {
  Timestamp nonce{0xdeadbeef, 0x01234567};
  Timestamp rx{0xe94b6a41, 0x1}, tx{0xe94b6a41, 0x2};
  auto good = reply_to(nonce, rx, tx);
  CHECK(accept_reply(good, nonce).kind == ReplyKind::sample);

  SUBCASE("short") {
    std::vector<std::uint8_t> b(47, 0x24);
    auto r = parse(b);
    CHECK_FALSE(r);
    CHECK(r.error == "47 bytes, shorter than the 48-byte NTP header");
    CHECK_FALSE(parse(std::vector<std::uint8_t>{}));
  }
  SUBCASE("wrong mode: our own request echoed, a broadcast, a control message") {
    for (auto mode : {Mode::client, Mode::broadcast, Mode::control, Mode::symmetric_active}) {
      auto p = good;
      p.mode = mode;
      auto a = accept_reply(p, nonce);
      CHECK_FALSE(a.kind);
      CHECK(a.error.find("not 4 (server)") != std::string::npos);
    }
  }
  SUBCASE("version 0 and 5-7") {
    for (std::uint8_t v : {0, 5, 7}) {
      auto p = good;
      p.version = v;
      CHECK_FALSE(accept_reply(p, nonce).kind);
    }
    auto p = good;
    p.version = 3;  // NTPv3 servers still answer v4 clients
    CHECK(accept_reply(p, nonce).kind == ReplyKind::sample);
  }
  SUBCASE("origin mismatch") {
    auto a = accept_reply(good, Timestamp{0xdeadbeef, 0x01234568});
    CHECK_FALSE(a.kind);
    CHECK(a.error.find("origin") != std::string::npos);
  }
  SUBCASE("zero transmit or receive timestamp") {
    auto p = good;
    p.transmit = {};
    CHECK(accept_reply(p, nonce).error == "zero transmit timestamp");
    p = good;
    p.receive = {};
    CHECK(accept_reply(p, nonce).error == "zero receive timestamp");
  }
  SUBCASE("stratum 0 is a kiss-o'-death, even without timestamps") {
    auto p = good;
    p.stratum = 0;
    p.leap = Leap::unsynchronised;
    p.reference_id = 0x52415445;  // RATE
    p.receive = p.transmit = {};
    CHECK(accept_reply(p, nonce).kind == ReplyKind::kiss);
    CHECK(reference_text(p.reference_id) == "RATE");
  }
  SUBCASE("LI 3 or stratum 16: an unsynchronised server") {
    auto p = good;
    p.leap = Leap::unsynchronised;
    CHECK(accept_reply(p, nonce).kind == ReplyKind::unsynchronised);
    p = good;
    p.stratum = 16;
    CHECK(accept_reply(p, nonce).kind == ReplyKind::unsynchronised);
  }
}

TEST_CASE("fuzz-shaped input: random bytes never crash and never pass as a reply to our nonce") {
  std::mt19937_64 rng(20261202);
  auto nonce = random_nonce();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> b(rng() % 96);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    auto r = parse(b);
    CHECK(r.packet.has_value() == (b.size() >= kHeaderSize));
    if (!r) continue;
    if (accept_reply(*r.packet, nonce).kind) ++accepted;
    // Re-encoding reproduces the header exactly.
    auto again = encode(*r.packet);
    CHECK(std::equal(again.begin(), again.end(), b.begin()));
  }
  CHECK(accepted == 0);  // 64 random bits would have to match the nonce
}

TEST_CASE("nonces are random, non-zero and distinct") {
  auto a = random_nonce(), b = random_nonce();
  CHECK_FALSE(a.zero());
  CHECK(a != b);
}

// ---- the client's schedule, in virtual time, against loopback peers ----

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

// A loopback NTP peer: records arrivals (virtual time) and answers with
// whatever `answer` builds from the request (nothing: silence), from its
// own socket or, when `from` is set, from another one.
struct Peer {
  using Answer = std::function<std::optional<Packet>(const Packet& request, int index)>;
  udp::socket sock;
  std::vector<Millis> arrivals;
  Answer answer;
  udp::socket* from = nullptr;

  Peer(asio::io_context& io, const VirtualTime& vt, Answer a = {})
      : sock(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), answer(std::move(a)) {
    asio::co_spawn(io, serve(vt), asio::detached);
  }
  Endpoint endpoint() const { return sock.local_endpoint(); }

  asio::awaitable<void> serve(const VirtualTime& vt) {
    std::array<std::uint8_t, 512> buf;
    for (;;) {
      udp::endpoint client;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), client, kUseTuple);
      if (ec) co_return;
      arrivals.push_back(since(vt));
      if (!answer) continue;
      auto req = parse(std::span<const std::uint8_t>(buf.data(), n));
      if (!req) continue;
      auto reply = answer(*req.packet, static_cast<int>(arrivals.size()) - 1);
      if (!reply) continue;
      auto bytes = encode(*reply);
      (from ? *from : sock).send_to(asio::buffer(bytes), client);
    }
  }
};

// A wall clock that moves with virtual time from a fixed instant.
WallClock virtual_wall(const VirtualTime& vt) {
  return [&vt] {
    return from_unix_ns(1'700'000'000LL * kSecond +
                        std::chrono::duration_cast<std::chrono::nanoseconds>(vt.elapsed()).count());
  };
}

// Runs the exchange from a fresh socket to `server`; closes the peer after.
Exchange run_exchange(asio::io_context& io, const VirtualTime& vt, Endpoint server, Peer* peer) {
  Exchange out;
  udp::socket sock(io, udp::v4());
  auto wall = virtual_wall(vt);
  Schedule plan;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out = co_await sntp_exchange(sock, server, plan, wall);
        if (peer) peer->sock.close();
      },
      asio::detached);
  run_io(io);
  return out;
}

std::vector<Millis> ms(std::initializer_list<long long> values) {
  std::vector<Millis> out;
  for (auto v : values) out.emplace_back(v);
  return out;
}

}  // namespace

TEST_CASE("schedule: a silent server costs 2 requests and 2.5 s, then silence is called") {
  VirtualTime vt;
  asio::io_context io;
  Peer peer(io, vt);
  auto ex = run_exchange(io, vt, peer.endpoint(), &peer);
  CHECK(ex.sent_at == ms({0, 2000}));
  CHECK(peer.arrivals == ms({0, 2000}));
  CHECK(std::chrono::duration_cast<Millis>(ex.elapsed) == Millis(2500));
  CHECK_FALSE(ex.answered());
  CHECK(ex.failed == Operation::receive);
  CHECK_FALSE(ex.failure);  // silence is not a socket error
  CHECK(ex.error == "no valid reply to 2 request(s) within 2500 ms");
}

TEST_CASE("schedule: an answering server gets 4 requests 2 s apart, the lowest delay is kept") {
  VirtualTime vt;
  asio::io_context io;
  auto wall = virtual_wall(vt);
  // In virtual time a reply is instant (t4 == t1). The server is 3 ms ahead
  // and stamps its transmit x ms before its receive, so a sample's delay is
  // x: the third reply (x = 1 ms) has the lowest, the others 4 ms.
  Peer peer(io, vt, [&](const Packet& req, int index) -> std::optional<Packet> {
    auto ahead = Timestamp::from_raw(wall().raw() + (std::uint64_t{3} << 32) / 1000);
    auto x = (std::uint64_t{index == 2 ? 1u : 4u} << 32) / 1000;
    return reply_to(req.transmit, ahead, Timestamp::from_raw(ahead.raw() - x));
  });
  auto ex = run_exchange(io, vt, peer.endpoint(), &peer);
  CHECK(ex.sent_at == ms({0, 2000, 4000, 6000}));
  REQUIRE(ex.replies.size() == 4);
  CHECK(std::chrono::duration_cast<Millis>(ex.elapsed) == Millis(6000));  // all answered: no straggler wait
  const auto* best = best_sample(ex);
  REQUIRE(best);
  CHECK(best->request == 2);
  CHECK(best->sample.delay_ms == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(best->sample.offset_ms == doctest::Approx(2.5).epsilon(1e-3));  // (3 + (3 - 1)) / 2
  CHECK(ex.replies[0].sample.delay_ms == doctest::Approx(4.0).epsilon(1e-3));
  CHECK(ex.rejected_replies == 0);
}

TEST_CASE("schedule: a kiss-o'-death stops the sending at once") {
  VirtualTime vt;
  asio::io_context io;
  Peer peer(io, vt, [&](const Packet& req, int) -> std::optional<Packet> {
    Packet k = reply_to(req.transmit, {}, {});
    k.stratum = 0;
    k.leap = Leap::unsynchronised;
    k.reference_id = 0x52415445;  // RATE
    return k;
  });
  auto ex = run_exchange(io, vt, peer.endpoint(), &peer);
  CHECK(ex.sent_at == ms({0}));
  REQUIRE(ex.replies.size() == 1);
  CHECK(ex.replies[0].kind == ReplyKind::kiss);
  CHECK(std::chrono::duration_cast<Millis>(ex.elapsed) == Millis(0));
}

TEST_CASE("schedule: replies with a wrong origin, or from another address, are not taken") {
  VirtualTime vt;
  asio::io_context io;
  auto wall = virtual_wall(vt);
  SUBCASE("wrong origin: counted with its reason, the exchange ends as invalid") {
    Peer peer(io, vt, [&](const Packet& req, int) -> std::optional<Packet> {
      auto now = wall();
      return reply_to(Timestamp::from_raw(req.transmit.raw() + 1), now, now);
    });
    auto ex = run_exchange(io, vt, peer.endpoint(), &peer);
    CHECK_FALSE(ex.answered());
    CHECK(ex.rejected_replies == 2);
    CHECK(ex.failed == Operation::parse);
    CHECK(ex.rejected_reason.find("origin") != std::string::npos);
  }
  SUBCASE("right origin from another socket: the connected socket never sees it") {
    udp::socket other(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    Peer peer(io, vt, [&](const Packet& req, int) -> std::optional<Packet> {
      auto now = wall();
      return reply_to(req.transmit, now, now);
    });
    peer.from = &other;
    auto ex = run_exchange(io, vt, peer.endpoint(), &peer);
    CHECK_FALSE(ex.answered());
    CHECK(ex.rejected_replies == 0);
    CHECK(peer.arrivals.size() == 2);
  }
}

TEST_CASE("schedule: a closed loopback port answers ICMP port unreachable at once") {
  VirtualTime vt;
  asio::io_context io;
  Endpoint closed;
  {
    udp::socket probe(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed = probe.local_endpoint();
  }
  auto ex = run_exchange(io, vt, closed, nullptr);
  CHECK_FALSE(ex.answered());
  REQUIRE(ex.icmp);
  CHECK(ex.icmp->port_unreachable());
  CHECK(ex.failed == Operation::receive);
  CHECK(ex.failure == net::NetFailure::refused);
  CHECK(std::chrono::duration_cast<Millis>(ex.elapsed) == Millis(0));
}
