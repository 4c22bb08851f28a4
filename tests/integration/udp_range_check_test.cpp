// The udp_range check against a real `callready respond` on loopback, driven
// through its CheckKind exactly as the engine does; and against a stand-in
// control port that claims ports nothing answers on (silence, ICMP).
#include "checks/udp_range/udp_range_check.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
using namespace callready::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string range(unsigned first, unsigned last) { return std::to_string(first) + "-" + std::to_string(last); }

// `control` is the scan's --responder control port (the default the check uses).
CheckOutcome run_check(const json& params, unsigned short control, std::string token = "") {
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 30s, settings, link, [](const std::string&) {}};
  auto kind = checks::udp_range_check_kind();
  REQUIRE(kind.validate(params).empty());
  return run_io(io, kind.run(params, ctx));
}

bool has_finding(const CheckOutcome& o, const std::string& code) {
  for (const auto& f : o.findings)
    if (f.code == code) return true;
  return false;
}

}  // namespace

TEST_CASE("every served port is open, nothing else reported") {
  TempDir dir;
  auto r = start_responder(dir, 50, {"--token", "s3cret"});
  json params = {{"host", "127.0.0.1"}, {"ports", range(r.udp_first, r.udp_first + 49)}, {"max_pps", 2000}};
  auto out = run_check(params, r.control, "s3cret");
  INFO(out.details.dump());
  REQUIRE_FALSE(out.error);
  CHECK(out.details["ports_tested"] == 50);
  CHECK(out.details["open"] == json::array({range(r.udp_first, r.udp_first + 49)}));
  CHECK(out.details["blocked"] == json::array());
  CHECK(out.details["rejected"] == json::array());
  CHECK(out.details["untested"] == json::array());
  CHECK(out.details["host"] == "127.0.0.1");
  CHECK(out.details["control"] == "ok");
  CHECK(out.details["rounds"] == 1);  // nothing lost on loopback: no retries needed
  CHECK(out.details["probes_sent"] == 50);
  CHECK(out.findings.empty());
  CHECK(out.summary.find("50 of 50 UDP ports open") == 0);
}

TEST_CASE("ports the responder does not serve are untested with a warning, never blocked") {
  TempDir dir;
  auto r = start_responder(dir, 20);
  unsigned a = r.udp_first;
  json params = {{"host", "127.0.0.1"},
                 {"ports", json::array({range(a, a + 19), range(a + 20, a + 24)})},
                 {"max_pps", 2000},
                 {"reply_wait_ms", 200},
                 {"control_port", r.control}};  // overrides the scan's (a port nobody listens on)
  auto out = run_check(params, free_port());
  INFO(out.details.dump());
  REQUIRE_FALSE(out.error);
  CHECK(out.details["ports_tested"] == 20);
  CHECK(out.details["open"] == json::array({range(a, a + 19)}));
  CHECK(out.details["untested"] == json::array({range(a + 20, a + 24)}));
  CHECK(out.details["not_served"] == json::array({range(a + 20, a + 24)}));
  CHECK(out.details["blocked"] == json::array());
  CHECK(out.details["rejected"] == json::array());
  REQUIRE(out.findings.size() == 1);
  CHECK(out.findings[0].code == "udp_range.not_served");
  CHECK(out.findings[0].severity == Severity::warning);
  CHECK(out.findings[0].operation == Operation::control);
}

TEST_CASE("the responder missing, refusing the token, or serving none of the ports is a set-up error") {
  TempDir dir;
  auto r = start_responder(dir, 6, {"--token", "right"});
  json params = {{"host", "127.0.0.1"}, {"ports", range(r.udp_first, r.udp_first + 5)}, {"reply_wait_ms", 50}};
  auto expect_setup = [](const CheckOutcome& out) {
    INFO(out.details.dump());
    REQUIRE(out.error);
    CHECK(out.error->reason == ErrorReason::setup);
    CHECK(out.error->operation == Operation::control);
    CHECK(out.findings.empty());
    CHECK(out.details["blocked"] == json::array());  // never reported as a firewall
  };
  SUBCASE("not running") {
    auto out = run_check(params, free_port(), "right");
    expect_setup(out);
    CHECK(out.details["ports_tested"] == 0);
  }
  SUBCASE("wrong token (the scan's)") { expect_setup(run_check(params, r.control, "wrong")); }
  SUBCASE("wrong token (the check's own)") {
    params["token"] = "wrong";
    expect_setup(run_check(params, r.control, "right"));
  }
  SUBCASE("none of the ports served") {
    params["ports"] = range(r.udp_first + 6, r.udp_first + 9);
    auto out = run_check(params, r.control, "right");
    expect_setup(out);
    CHECK(out.error->message.find("does not serve udp_echo") != std::string::npos);
  }
}

TEST_CASE("silence is blocked after every attempt and ICMP from the target itself is closed_at_responder") {
  // Six silent sockets (bound, never read) and four ports with nothing bound,
  // all claimed by the control port.
  unsigned first = free_udp_block(10);
  asio::io_context sink_io;
  std::vector<asio::ip::udp::socket> silent;
  for (unsigned p = first; p < first + 6; ++p)
    silent.emplace_back(sink_io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), p));
  FakeControl control(json{{"udp_echo", json::array({range(first, first + 9)})}});
  json params = {{"host", "127.0.0.1"},
                 {"ports", range(first, first + 9)},
                 {"max_pps", 1000},
                 {"reply_wait_ms", 50},
                 {"attempts", 3}};
  auto out = run_check(params, control.port());
  INFO(out.details.dump());
  REQUIRE_FALSE(out.error);
  CHECK(out.details["open"] == json::array());
  CHECK(out.details["blocked"] == json::array({range(first, first + 5)}));
  CHECK(out.details["rejected"] == json::array({range(first + 6, first + 9)}));
  CHECK(out.details["rounds"] == 3);
  CHECK(out.details["rejected_by"][0]["icmp"] == "ICMP port unreachable from 127.0.0.1");
  CHECK(out.details["rejected_by"][0]["by_target"] == true);
  CHECK(has_finding(out, "udp_range.blocked"));
  CHECK(has_finding(out, "udp_range.closed_at_responder"));
  CHECK_FALSE(has_finding(out, "udp_range.rejected"));  // not a firewall: nothing listens there
  for (const auto& f : out.findings)
    if (f.code == "udp_range.blocked") {
      CHECK(f.severity == Severity::critical);
      CHECK(f.operation == Operation::receive);
      CHECK(f.remediation.find("Allow outbound UDP to 127.0.0.1 ports " + range(first, first + 5)) == 0);
    }
}

TEST_CASE("source_ports: probes leave from the given local ports") {
  TempDir dir;
  auto r = start_responder(dir, 10);
  unsigned short src = free_udp_block(3);
  json params = {{"host", "127.0.0.1"},
                 {"ports", range(r.udp_first, r.udp_first + 9)},
                 {"source_ports", range(src, src + 2)},
                 {"max_pps", 1000}};
  auto out = run_check(params, r.control);
  INFO(out.details.dump());
  CHECK(out.details["open"] == json::array({range(r.udp_first, r.udp_first + 9)}));
  CHECK(out.details["source_ports"] == json::array({range(src, src + 2)}));
  std::string seen = out.details["observed_source"];
  auto port = std::stoi(seen.substr(seen.rfind(':') + 1));
  CHECK(port >= src);
  CHECK(port <= src + 2);
}

TEST_CASE("params are validated with their path") {
  auto kind = checks::udp_range_check_kind();
  CHECK(kind.validate(json{{"ports", "5004"}}).at(0).path == "host");
  CHECK(kind.validate(json{{"host", "h"}}).at(0).path == "ports");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", "9000-8000"}}).at(0).path == "ports");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", "1"}, {"max_pps", 0}}).at(0).path == "max_pps");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", "1"}, {"control_port", 0}}).at(0).path == "control_port");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", "1"}, {"prots", "1"}}).at(0).path == "prots");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", json::array({"5004", "9000-9001"})}}).empty());
  CHECK(kind.target(json{{"host", "h"}, {"ports", json::array({"9001", "9000", "5004"})}}) == "h udp 5004,9000-9001");
}

TEST_CASE("a port that answers garbage is open with something else answering, not blocked") {
  // Two ports answer every datagram with bytes that are no echo reply; two stay silent.
  unsigned first = free_udp_block(4);
  asio::io_context peer_io;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> peers;
  for (unsigned p = first; p < first + 4; ++p)
    peers.push_back(std::make_unique<asio::ip::udp::socket>(
        peer_io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), p)));
  std::atomic<bool> done{false};
  std::thread garbage([&] {
    std::array<char, 2048> buf;
    while (!done) {
      for (int i = 0; i < 2; ++i) {
        auto& s = *peers[i];
        if (s.available() == 0) continue;
        asio::ip::udp::endpoint from;
        s.receive_from(asio::buffer(buf), from);
        s.send_to(asio::buffer("HTTP/1.1 400 Bad Request\r\n\r\n", 28), from);
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  FakeControl control(json{{"udp_echo", json::array({range(first, first + 3)})}});
  json params = {{"host", "127.0.0.1"},
                 {"ports", range(first, first + 3)},
                 {"max_pps", 1000},
                 {"reply_wait_ms", 50},
                 {"attempts", 2}};
  auto out = run_check(params, control.port());
  done = true;
  garbage.join();
  INFO(out.details.dump());
  REQUIRE_FALSE(out.error);
  CHECK(out.details["other_answer"] == json::array({range(first, first + 1)}));
  CHECK(out.details["blocked"] == json::array({range(first + 2, first + 3)}));
  CHECK(has_finding(out, "udp_range.other_answer"));
}
