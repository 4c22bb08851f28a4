// The udp_range check against a real `callready respond` on loopback, driven
// through its CheckKind exactly as the engine does.
#include "checks/udp_range/udp_range_check.hpp"

#include <doctest/doctest.h>

#include "probe/net/resolver.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
using namespace callready::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string range(unsigned first, unsigned last) { return std::to_string(first) + "-" + std::to_string(last); }

CheckOutcome run_check(const json& params, ScanSettings settings, std::chrono::seconds limit = 30s) {
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + limit, settings, [](const std::string&) {}};
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
  ScanSettings s;
  s.token = "s3cret";
  s.responder = "127.0.0.1:" + std::to_string(r.control);
  json params = {{"host", "127.0.0.1"}, {"ports", range(r.udp_first, r.udp_first + 49)}, {"max_pps", 2000}};
  auto out = run_check(params, s);
  INFO(out.details.dump());
  REQUIRE_FALSE(out.error);
  CHECK(out.details["ports_tested"] == 50);
  CHECK(out.details["open"] == json::array({range(r.udp_first, r.udp_first + 49)}));
  CHECK(out.details["blocked"] == json::array());
  CHECK(out.details["rejected"] == json::array());
  CHECK(out.details["host"] == "127.0.0.1");
  CHECK(out.details["control"] == "ok");
  CHECK(out.details["rounds"] == 1);  // nothing lost on loopback: no retries needed
  CHECK(out.details["probes_sent"] == 50);
  CHECK(out.findings.empty());
  CHECK(out.summary.find("50 of 50 UDP ports open") == 0);
}

TEST_CASE("ports the responder does not serve: rejected by the target itself, or not tested when it says so") {
  TempDir dir;
  auto r = start_responder(dir, 20);
  unsigned a = r.udp_first;
  json params = {{"host", "127.0.0.1"},
                 {"ports", json::array({range(a, a + 19), range(a + 20, a + 24)})},
                 {"max_pps", 2000},
                 {"reply_wait_ms", 200}};

  SUBCASE("without the control port the sweep finds ICMP port unreachable from the responder") {
    params["control_port"] = free_port();
    auto out = run_check(params, ScanSettings{});
    INFO(out.details.dump());
    CHECK(out.details["open"] == json::array({range(a, a + 19)}));
    CHECK(out.details["rejected"] == json::array({range(a + 20, a + 24)}));
    CHECK(out.details["blocked"] == json::array());
    CHECK(has_finding(out, "udp_range.closed_at_responder"));
    CHECK(has_finding(out, "udp_range.control_unreachable"));
    CHECK_FALSE(has_finding(out, "udp_range.rejected"));  // not a firewall: nothing listens there
    CHECK(out.details["rejected_by"][0]["icmp"] == "ICMP port unreachable from 127.0.0.1");
  }
  SUBCASE("with the control port those ports are reported as not served, not as a network fault") {
    params["control_port"] = r.control;
    auto out = run_check(params, ScanSettings{});
    INFO(out.details.dump());
    CHECK(out.details["ports_tested"] == 20);
    CHECK(out.details["untested"] == json::array({range(a + 20, a + 24)}));
    CHECK(out.details["rejected"] == json::array());
    CHECK(has_finding(out, "udp_range.not_served"));
  }
}

TEST_CASE("silence is blocked after every attempt, and a token the control port refuses is an error") {
  TempDir dir;
  auto r = start_responder(dir, 6, {"--token", "right"});
  json params = {{"host", "127.0.0.1"}, {"ports", range(r.udp_first, r.udp_first + 5)},
                 {"token", "wrong"},    {"max_pps", 1000},
                 {"reply_wait_ms", 50}, {"attempts", 3}};
  SUBCASE("the sweep alone sees silence") {
    params["control_port"] = free_port();
    auto start = Clock::now();
    auto out = run_check(params, ScanSettings{});
    INFO(out.details.dump());
    CHECK(out.details["open"] == json::array());
    CHECK(out.details["blocked"] == json::array({range(r.udp_first, r.udp_first + 5)}));
    CHECK(out.details["rounds"] == 3);
    CHECK(out.details["probes_sent"] == 18);
    CHECK(has_finding(out, "udp_range.blocked"));
    // 50 + 100 + 200 ms of backoff, plus pacing
    CHECK(Clock::now() - start >= 350ms);
    for (const auto& f : out.findings)
      if (f.code == "udp_range.blocked") {
        CHECK(f.severity == Severity::critical);
        CHECK(f.remediation.find("Allow outbound UDP to 127.0.0.1 ports " + range(r.udp_first, r.udp_first + 5)) == 0);
      }
  }
  SUBCASE("the control port tells the token is wrong") {
    params["control_port"] = r.control;
    auto out = run_check(params, ScanSettings{});
    REQUIRE(out.error);
    CHECK(out.error->reason == "auth");
  }
}

TEST_CASE("source_ports: probes leave from the given local ports") {
  TempDir dir;
  auto r = start_responder(dir, 10);
  unsigned short src = free_udp_block(3);
  json params = {{"host", "127.0.0.1"},
                 {"ports", range(r.udp_first, r.udp_first + 9)},
                 {"source_ports", range(src, src + 2)},
                 {"control_port", r.control},
                 {"max_pps", 1000}};
  auto out = run_check(params, ScanSettings{});
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
  CHECK(kind.validate(json{{"host", "h"}, {"ports", "1"}, {"prots", "1"}}).at(0).path == "prots");
  CHECK(kind.validate(json{{"host", "h"}, {"ports", json::array({"5004", "9000-9001"})}}).empty());
  CHECK(kind.target(json{{"host", "h"}, {"ports", json::array({"9001", "9000", "5004"})}}) == "h udp 5004,9000-9001");
}
