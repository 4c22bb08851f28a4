// The scan's per-address RTT store and its silence rule, in virtual time: how
// long "no answer" is waited out with and without an RTT, an RTT that arrives
// mid-wait, the budget bound, cancellation, one store per io_context.
#include "probe/net/path_rtt.hpp"

#include <doctest/doctest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "probe/clock.hpp"

using namespace callready;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::make_address;

namespace {

const auto kServer = make_address("203.0.113.10");
const auto kOther = make_address("2001:db8::10");

// One wait_silence on its own io_context: when it ended (virtual ms after
// start) and the rule it reported. `during` runs on the same loop, e.g. to
// record an RTT mid-wait.
struct Waited {
  long long after_ms = -1;
  net::SilenceWait rule;
};

Waited wait_on(net::PathRtt& paths, asio::io_context& io, Millis budget, double fraction = 1.0) {
  Waited w;
  auto start = Clock::now();
  auto waiting = paths.wait_silence(kServer, start, budget, fraction);
  asio::co_spawn(io, std::move(waiting), [&](std::exception_ptr e, net::SilenceWait rule) {
    REQUIRE(!e);
    w.rule = rule;
    w.after_ms = std::chrono::duration_cast<Millis>(Clock::now() - start).count();
  });
  run_io(io);
  return w;
}

}  // namespace

TEST_CASE("silence rule: max(4 x RTT, 250 ms), bounded by the budget, the budget without an RTT") {
  auto none = net::silence_wait_for(std::nullopt, 3000ms);
  CHECK(none.basis == net::WaitBasis::timeout);
  CHECK(none.wait == 3000ms);
  CHECK(!none.rtt_ms);

  auto fast = net::silence_wait_for(std::chrono::microseconds(1200), 3000ms);
  CHECK(fast.basis == net::WaitBasis::rtt);
  CHECK(fast.wait == 250ms);
  CHECK(*fast.rtt_ms == doctest::Approx(1.2));

  CHECK(net::silence_wait_for(100ms, 3000ms).wait == 400ms);
  CHECK(net::silence_wait_for(std::chrono::microseconds(62'501), 3000ms).wait == 251ms);  // rounded up
  auto capped = net::silence_wait_for(2s, 3000ms);
  CHECK(capped.wait == 3000ms);
  CHECK(capped.basis == net::WaitBasis::rtt);
  CHECK(net::silence_wait_for(10ms, 100ms).wait == 100ms);
  CHECK(net::to_string(net::WaitBasis::rtt) == "rtt");
  CHECK(net::to_string(net::WaitBasis::timeout) == "timeout");
}

TEST_CASE("path rtt store: per address, the largest sample") {
  net::PathRtt paths;
  CHECK(!paths.rtt(kServer));
  paths.record(kServer, 20ms);
  paths.record(kServer, 80ms);
  paths.record(kServer, 30ms);
  paths.record(kServer, -5ms);  // a clock that went back: ignored
  CHECK(*paths.rtt(kServer) == 80ms);
  CHECK(paths.samples(kServer) == 3);
  CHECK(!paths.rtt(kOther));
  CHECK(paths.silence_wait(kServer, 3000ms).wait == 320ms);
  CHECK(paths.silence_wait(kOther, 3000ms).basis == net::WaitBasis::timeout);
}

TEST_CASE("silence wait in virtual time: the budget, then 4 x RTT once one is known") {
  VirtualTime vt;
  net::PathRtt paths;
  {
    asio::io_context io;
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 3000);
    CHECK(w.rule.basis == net::WaitBasis::timeout);
  }
  paths.record(kServer, 100ms);
  {
    asio::io_context io;
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 400);
    CHECK(w.rule.basis == net::WaitBasis::rtt);
    CHECK(*w.rule.rtt_ms == doctest::Approx(100));
  }
  {
    asio::io_context io;
    auto w = wait_on(paths, io, 3000ms, 0.5);  // the halfway mark a second try uses
    CHECK(w.after_ms == 200);
  }
}

TEST_CASE("silence wait re-armed: an RTT learnt mid-wait shortens it, counted from the wait's start") {
  VirtualTime vt;
  SUBCASE("learnt at 100 ms: ends at 250 ms") {
    net::PathRtt paths;
    asio::io_context io;
    Timer learn(io);
    learn.expires_after(100ms);
    learn.async_wait([&](boost::system::error_code) { paths.record(kServer, 2ms); });
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 250);
    CHECK(w.rule.basis == net::WaitBasis::rtt);
  }
  SUBCASE("learnt at 900 ms, already past 4 x RTT: ends at once") {
    net::PathRtt paths;
    asio::io_context io;
    Timer learn(io);
    learn.expires_after(900ms);
    learn.async_wait([&](boost::system::error_code) { paths.record(kServer, 50ms); });
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 900);
    CHECK(w.rule.wait == 250ms);
  }
  SUBCASE("an RTT to another address changes nothing") {
    net::PathRtt paths;
    asio::io_context io;
    Timer learn(io);
    learn.expires_after(100ms);
    learn.async_wait([&](boost::system::error_code) { paths.record(kOther, 2ms); });
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 3000);
    CHECK(w.rule.basis == net::WaitBasis::timeout);
  }
  SUBCASE("a larger RTT learnt mid-wait lengthens it, within the budget") {
    net::PathRtt paths;
    paths.record(kServer, 10ms);
    asio::io_context io;
    Timer learn(io);
    learn.expires_after(200ms);
    learn.async_wait([&](boost::system::error_code) { paths.record(kServer, 150ms); });
    auto w = wait_on(paths, io, 3000ms);
    CHECK(w.after_ms == 600);
  }
}

TEST_CASE("silence wait: cancellation ends it with operation_aborted and leaves no waiter behind") {
  VirtualTime vt;
  net::PathRtt paths;
  asio::io_context io;
  asio::cancellation_signal stop;
  Timer stopper(io);
  stopper.expires_after(70ms);
  stopper.async_wait([&](boost::system::error_code) { stop.emit(asio::cancellation_type::terminal); });
  bool aborted = false;
  long long after = -1;
  auto start = Clock::now();
  auto waiting = paths.wait_silence(kServer, start, 3000ms);
  asio::co_spawn(io, std::move(waiting),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, net::SilenceWait) {
                   after = std::chrono::duration_cast<Millis>(Clock::now() - start).count();
                   try {
                     if (e) std::rethrow_exception(e);
                   } catch (const boost::system::system_error& ex) {
                     aborted = ex.code() == asio::error::operation_aborted;
                   }
                 }));
  run_io(io);
  CHECK(aborted);
  CHECK(after == 70);
  paths.record(kServer, 1ms);  // would touch a dangling timer if the waiter had stayed registered
  CHECK(paths.samples(kServer) == 1);
}

TEST_CASE("one store per io_context: a scan never sees another scan's paths") {
  asio::io_context a, b;
  auto& in_a = net::path_rtt(a.get_executor());
  CHECK(&in_a == &net::path_rtt(asio::any_io_executor(a.get_executor())));
  CHECK(&in_a != &net::path_rtt(b.get_executor()));
  in_a.record(kServer, 5ms);
  CHECK(net::path_rtt(a.get_executor()).rtt(kServer));
  CHECK(!net::path_rtt(b.get_executor()).rtt(kServer));
}
