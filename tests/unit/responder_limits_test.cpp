// The responder's bounds under abuse, in virtual time: the hashed per-source
// rate limiter and the total cap, the session log's table and line budget,
// the rate-limited log, and the TCP connection caps and idle timer.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/respond/loop_faults.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/session_log.hpp"
#include "probe/respond/tcp_session_guard.hpp"

using namespace callready;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::make_address;

namespace {

asio::ip::address v4_source(std::uint32_t n) { return asio::ip::address_v4(0xC6120000u + n); }  // 198.18.0.0/15

struct Captured {
  std::vector<std::pair<std::string, std::string>> lines;
  respond::ResponderLog log() {
    return [this](const std::string& level, const std::string& line) { lines.push_back({level, line}); };
  }
  std::size_t containing(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& [level, line] : lines) n += line.find(text) != std::string::npos;
    return n;
  }
};

}  // namespace

TEST_CASE("per-source limit: a burst of rate, then rate per second") {
  VirtualTime vt;
  respond::RateLimiter limiter(10);
  auto source = make_address("198.51.100.7");
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += limiter.allow(source, Clock::now());
  CHECK(allowed == 10);
  VirtualTime::advance(500ms);
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += limiter.allow(source, Clock::now());
  CHECK(allowed == 5);
  // Another source has its own bucket.
  CHECK(limiter.allow(make_address("2001:db8::1"), Clock::now()));
}

TEST_CASE("a flood from 200,000 spoofed sources neither grows the table nor starves a steady client") {
  VirtualTime vt;
  respond::RateLimiter limiter(50);
  const std::size_t slots = limiter.slots();
  auto client = make_address("203.0.113.9");
  // The flood: 200k distinct sources, one packet each, over 10 virtual seconds;
  // the client sends 10 packets per second meanwhile.
  int client_allowed = 0, client_sent = 0;
  std::uint64_t flood_allowed = 0;
  for (std::uint32_t i = 0; i < 200000; ++i) {
    flood_allowed += limiter.allow(v4_source(i), Clock::now());
    if (i % 2000 == 0) {
      ++client_sent;
      client_allowed += limiter.allow(client, Clock::now());
    }
    VirtualTime::advance(50us);
  }
  CHECK(limiter.slots() == slots);  // fixed memory whatever the number of sources
  CHECK(client_sent == 100);
  CHECK(client_allowed == client_sent);  // its slot's bucket refills faster than it spends
  // Answers to the flood do not collapse: nearly every first packet of a source passes.
  CHECK(flood_allowed > 190000);
}

TEST_CASE("sources are spread over the slots by a keyed hash") {
  respond::RateLimiter limiter(1, 1024);
  std::vector<int> hits(1024);
  for (std::uint32_t i = 0; i < 1024 * 16; ++i) ++hits[limiter.slot_of(v4_source(i))];
  int empty = 0, crowded = 0;
  for (int h : hits) {
    empty += h == 0;
    crowded += h > 48;
  }
  CHECK(empty < 4);  // 16 per slot on average: an empty slot is rare
  CHECK(crowded == 0);
  respond::RateLimiter other(1, 1024);  // another process, another key
  int same = 0;
  for (std::uint32_t i = 0; i < 256; ++i) same += limiter.slot_of(v4_source(i)) == other.slot_of(v4_source(i));
  CHECK(same < 32);
}

TEST_CASE("the total cap of an open service") {
  VirtualTime vt;
  respond::GlobalRateLimiter cap(1000);
  int allowed = 0;
  for (int ms = 0; ms < 10000; ++ms) {
    for (int i = 0; i < 20; ++i) allowed += cap.allow(Clock::now());  // 20,000 per second offered
    VirtualTime::advance(1ms);
  }
  CHECK(allowed >= 10000);
  CHECK(allowed <= 11001);  // the burst plus 1000 per second
}

TEST_CASE("junk opens no session: unauthenticated, malformed and rate-limited packets are one tally") {
  VirtualTime vt;
  Captured out;
  respond::SessionLog sessions(out.log(), 5s);
  for (std::uint32_t i = 0; i < 100000; ++i) {
    auto outcome = i % 3 == 0   ? respond::SessionLog::Outcome::unauthenticated
                   : i % 3 == 1 ? respond::SessionLog::Outcome::malformed
                                : respond::SessionLog::Outcome::rate_limited;
    sessions.record("udp-echo", v4_source(i), i * 7919ULL, static_cast<std::uint16_t>(i), 9000, outcome, Clock::now());
  }
  CHECK(sessions.sessions() == 0);
  VirtualTime::advance(6s);
  sessions.expire(Clock::now());
  CHECK(out.lines.size() == 1);
  CHECK(out.containing("udp-echo: 100000 packets opened no session") == 1);
}

TEST_CASE("answered sessions are bounded, their ports too, and the log keeps to its line budget") {
  VirtualTime vt;
  Captured out;
  respond::SessionLog sessions(out.log(), 5s);
  auto client = make_address("192.0.2.1");
  for (std::uint32_t i = 0; i < 10000; ++i)
    sessions.record("udp-echo", v4_source(i), i, 40000, 9000, respond::SessionLog::Outcome::answered, Clock::now());
  CHECK(sessions.sessions() == respond::SessionLog::kMaxSessions);
  // One session over every port: only kMaxPortsKept are kept, the rest counted.
  VirtualTime::advance(6s);
  sessions.expire(Clock::now());
  out.lines.clear();
  for (std::uint32_t p = 1; p < 65536; ++p)
    sessions.record("udp-echo", client, 42, static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(p),
                    respond::SessionLog::Outcome::answered, Clock::now());
  VirtualTime::advance(6s);
  sessions.expire(Clock::now());
  REQUIRE(out.containing("session 000000000000002a") == 1);
  CHECK(out.containing("(and " + std::to_string(65535 - respond::SessionLog::kMaxPortsKept) +
                       " packets on further ports)") == 1);
  for (const auto& [level, line] : out.lines) CHECK(line.size() < 2000);
}

TEST_CASE("session lines past the budget are summed up as suppressed") {
  VirtualTime vt;
  Captured out;
  respond::SessionLog sessions(out.log(), 5s);
  for (std::uint32_t i = 0; i < 500; ++i)
    sessions.record("udp-echo", v4_source(i), i, 40000, 9000, respond::SessionLog::Outcome::answered, Clock::now());
  VirtualTime::advance(6s);
  sessions.expire(Clock::now());
  CHECK(out.containing(" session ") == respond::SessionLog::kMaxLinesPerInterval);
  sessions.expire(Clock::now(), true);
  CHECK(out.containing(std::to_string(500 - respond::SessionLog::kMaxLinesPerInterval) + " lines suppressed") == 1);
}

TEST_CASE("a rate-limited log passes its budget, then counts what it drops") {
  VirtualTime vt;
  Captured out;
  auto log = respond::rate_limited_log(out.log(), "control", 3, 10s);
  for (int i = 0; i < 100; ++i) log("warn", "refused " + std::to_string(i));
  CHECK(out.lines.size() == 3);
  VirtualTime::advance(11s);
  log("warn", "refused again");
  REQUIRE(out.lines.size() == 5);
  CHECK(out.lines[3].second == "control: 97 lines suppressed");
  CHECK(out.lines[4].second == "refused again");
}

TEST_CASE("connection caps: per source and in total") {
  respond::TcpConnectionLimits limits(5, 2);
  auto a = make_address("198.51.100.1");
  auto b = make_address("198.51.100.2");
  CHECK(limits.admits(a));
  limits.add(a);
  limits.add(a);
  CHECK_FALSE(limits.admits(a));
  CHECK(limits.admits(b));
  limits.add(b);
  limits.add(b);
  limits.add(make_address("198.51.100.3"));
  CHECK(limits.total() == 5);
  CHECK_FALSE(limits.admits(make_address("198.51.100.4")));  // the global cap
  limits.remove(a);
  CHECK(limits.admits(a));
  CHECK(limits.from(a) == 1);
  limits.remove(a);
  CHECK(limits.from(a) == 0);
}

TEST_CASE("the idle timer counts from the last byte received, and answers do not reset it") {
  VirtualTime vt;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  auto served = std::make_shared<asio::ip::tcp::socket>(io);
  acceptor.accept(*served);
  respond::TcpConnectionLimits limits;
  Clock::time_point closed_at{};
  const auto start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        respond::TcpSessionGuard guard(limits, served, 30s);
        CHECK(limits.total() == 1);
        std::array<char, 16> buf;
        for (;;) {
          auto [ec, n] = co_await served->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
          if (ec) break;
          guard.received();
          // The server answers at once; only the client's bytes count as activity.
          co_await asio::async_write(*served, asio::buffer(buf.data(), n), asio::as_tuple(asio::use_awaitable));
        }
        closed_at = Clock::now();
      },
      asio::detached);
  // The client writes at 20 s, then only reads (a slow reader gets answers but sends nothing).
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Timer t(io, 20s);
        co_await t.async_wait(asio::use_awaitable);
        co_await asio::async_write(client, asio::buffer("x", 1), asio::use_awaitable);
        std::array<char, 16> buf;
        for (;;) {
          auto [ec, n] = co_await client.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
          if (ec) break;
        }
      },
      asio::detached);
  run_io(io);
  auto lived = Clock::now() - start;
  CHECK(closed_at - start >= 50s);
  CHECK(closed_at - start < 51s);
  CHECK(lived < 52s);
  CHECK(limits.total() == 0);
}
