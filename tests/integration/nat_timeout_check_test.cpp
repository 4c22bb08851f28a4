// The nat_timeout check on loopback against a real `callready respond`: with
// no NAT in between every rung's deferred packet arrives, UDP (both warm-ups)
// and TCP, and the check takes the longest rung plus its warm-up, not more;
// the lines themselves are rungs, so a run that reaches them passes. The
// set-up errors: a port the responder does not serve, a wrong token, and a
// responder restarted while the bindings are idle (its timers are gone: the
// canary proves it, so nothing is called expired). Real expiry needs the
// namespace lab (tests/lab/nat_timeout_*).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct Run {
  CheckOutcome outcome;
  Millis took{0};
};

// `during`, when given, runs on the check's own loop `at` after the start.
Run run_nat_timeout(const json& params, unsigned short control, const std::string& token = "",
                    std::function<void()> during = {}, Millis at = Millis(0), Millis timeout = 40s) {
  const CheckKind* kind = find_check_kind("nat_timeout");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + timeout, settings, link, nullptr};
  Timer timer(io);
  if (during) {
    timer.expires_after(at);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) during();
    });
  }
  auto start = Clock::now();
  Run r;
  r.outcome = test::run_io(io, kind->run(params, ctx));
  r.took = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return r;
}

struct Ports {
  unsigned short control = 0, udp = 0, tcp = 0;
};

std::unique_ptr<test::ChildProcess> start(const test::TempDir& dir, const Ports& p, std::vector<std::string> extra) {
  std::vector<std::string> argv = {CALLREADY_BINARY, "respond",  "--listen", "127.0.0.1:" + std::to_string(p.control),
                                   "--bind",         "127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  static int n = 0;
  auto process = std::make_unique<test::ChildProcess>(
      argv, dir.file("nat-timeout-responder-" + std::to_string(p.control) + "-" + std::to_string(n++)));
  if (!test::wait_for_tcp("127.0.0.1", p.control, 10s)) {
    INFO(process->log());
    FAIL("the responder did not open its control port");
  }
  return process;
}

Ports free_ports() {
  Ports p;
  p.control = test::free_port();
  p.udp = test::free_port(true);
  p.tcp = test::free_port();
  return p;
}

std::vector<std::string> serve_both(const Ports& p) {
  return {"--udp-ports", std::to_string(p.udp), "--tcp-ports", std::to_string(p.tcp)};
}

// A short ladder: rungs 2, 4 and 5 s (max_s), the lines at 4 and 5 s.
json params(const Ports& p) {
  return {{"host", "127.0.0.1"}, {"max_s", 5},     {"ladder", {2}},     {"udp_port", p.udp},   {"tcp_port", p.tcp},
          {"udp_min_s", 4},      {"tcp_min_s", 5}, {"warmup_ms", 2100}, {"reply_wait_ms", 500}};
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> c;
  for (const auto& f : o.findings) c.push_back(f.code);
  return c;
}

bool none_expired(const json& d) {
  for (const char* k : {"udp", "udp_single", "tcp"}) {
    if (!d.contains(k) || !d[k].is_object() || !d[k].contains("rungs")) continue;
    for (const auto& r : d[k]["rungs"])
      if (r["outcome"] == "expired") return false;
  }
  return true;
}

}  // namespace

TEST_CASE("on loopback every rung is reached, UDP both warm-ups and TCP, within the longest rung plus warm-up") {
  test::TempDir dir;
  auto p = free_ports();
  auto responder = start(dir, p, serve_both(p));
  // A check timeout of 13 s affords max_s 5 (5 s + the warm-up, the grace and
  // 4 s to report: 12.1 s); a 10% reserve on top would have cut it to 4 s.
  auto r = run_nat_timeout(params(p), p.control, "", {}, Millis(0), Millis(13000));
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  REQUIRE_FALSE(r.outcome.error);
  CHECK(codes(r.outcome).empty());  // both lines reached: nothing short, nothing unproven
  for (const char* k : {"udp", "udp_single", "tcp"}) {
    CAPTURE(k);
    REQUIRE(d[k].is_object());
    CHECK(d[k]["lifetime_min_s"] == 5);
    CHECK(d[k]["lifetime_max_s"].is_null());
    CHECK(d[k]["max_s"] == 5);
    std::vector<int> idle;
    for (const auto& rung : d[k]["rungs"]) {
      idle.push_back(rung["idle_s"]);
      CHECK(rung["outcome"] == "reached");
    }
    CHECK(idle == std::vector<int>{2, 4, 5});
  }
  CHECK(d["udp"]["port"] == p.udp);
  CHECK(d["tcp"]["port"] == p.tcp);
  CHECK(d["mapped_udp"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  CHECK(r.outcome.summary.find("UDP call-like at least 5 s") != std::string::npos);
  // The deferred packets came when asked, not at once: the check waited for
  // the longest rung, and no longer than it plus the warm-up and the grace.
  CHECK(r.took >= 5s);
  CHECK(r.took <= Millis(5000 + 2100 + 2 * 500 + 1500));
}

TEST_CASE("a responder that does not serve the UDP port is a set-up error, not an expired binding") {
  test::TempDir dir;
  auto p = free_ports();
  auto responder = start(dir, p, {"--tcp-ports", std::to_string(p.tcp)});
  auto r = run_nat_timeout(params(p), p.control);
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->operation == Operation::control);
  CHECK(r.outcome.error->message.find("udp_echo") != std::string::npos);
  CHECK(r.outcome.findings.empty());
  CHECK(r.took < 2s);  // told before any binding idles
}

TEST_CASE("a wrong token is a set-up error") {
  test::TempDir dir;
  auto p = free_ports();
  auto extra = serve_both(p);
  extra.insert(extra.end(), {"--token", "the-right-one"});
  auto responder = start(dir, p, extra);
  auto r = run_nat_timeout(params(p), p.control, "a-wrong-one");
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->message.find("token") != std::string::npos);
  CHECK(r.outcome.findings.empty());
}

TEST_CASE("a responder restarted while the bindings idle is a set-up error, never an expired binding") {
  test::TempDir dir;
  auto p = free_ports();
  auto responder = start(dir, p, serve_both(p));
  bool restarted = false;
  // At 3 s every binding is warm and waits for its deferred packet (the
  // first is due at 2 s after the single exchange, 4 s after the call-like
  // warm-up): the restart loses the responder's timers.
  auto restart = [&] {
    responder->stop();
    responder = start(dir, p, serve_both(p));
    restarted = true;
  };
  auto r = run_nat_timeout(params(p), p.control, "", restart, Millis(3000));
  INFO(r.outcome.details.dump(2));
  REQUIRE(restarted);
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->message.find("restarted") != std::string::npos);
  CHECK(r.outcome.findings.empty());
  CHECK(none_expired(r.outcome.details));
}
