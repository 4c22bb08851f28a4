// The program's one clock: real steady time, or virtual time a test drives.
#include "probe/clock.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

using namespace callready;
namespace asio = boost::asio;

TEST_CASE("virtual time: run_io jumps to each due timer, in order, at its exact time") {
  VirtualTime vt;
  asio::io_context io;
  std::vector<long long> fired;  // virtual ms at which each timer fired
  auto at = [&](Millis when) {
    auto t = std::make_shared<Timer>(io, when);
    t->async_wait([&, t](boost::system::error_code ec) {
      if (!ec) fired.push_back(std::chrono::duration_cast<Millis>(vt.elapsed()).count());
    });
  };
  at(Millis(39500));
  at(Millis(500));
  at(Millis(1500));
  run_io(io);
  CHECK(fired == std::vector<long long>{500, 1500, 39500});
  CHECK(vt.elapsed() == Millis(39500));
}

TEST_CASE("virtual time: a coroutine's chained waits add up exactly") {
  VirtualTime vt;
  asio::io_context io;
  Millis total{0};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Timer t(io);
        for (Millis step : {Millis(500), Millis(1000), Millis(2000), Millis(4000)}) {
          t.expires_after(step);
          co_await t.async_wait(asio::use_awaitable);
          total += step;
        }
      },
      asio::detached);
  run_io(io);
  CHECK(total == Millis(7500));
  CHECK(vt.elapsed() == Millis(7500));
}

TEST_CASE("virtual time: a cancelled timer does not hold the clock back or forward") {
  VirtualTime vt;
  asio::io_context io;
  Timer far(io, std::chrono::hours(1)), near(io, Millis(10));
  bool far_cancelled = false;
  far.async_wait([&](boost::system::error_code ec) { far_cancelled = ec == asio::error::operation_aborted; });
  near.async_wait([&](boost::system::error_code) { far.cancel(); });
  run_io(io);
  CHECK(far_cancelled);
  CHECK(vt.elapsed() == Millis(10));
}

TEST_CASE("virtual time is not nestable and ends with its scope") {
  {
    VirtualTime vt;
    CHECK_THROWS_AS(VirtualTime(), std::logic_error);
    auto before = Clock::now();
    VirtualTime::advance(Millis(5));
    CHECK(Clock::now() - before == Millis(5));
  }
  auto a = Clock::now();
  auto b = Clock::now();
  CHECK(b >= a);  // real steady time again
}
