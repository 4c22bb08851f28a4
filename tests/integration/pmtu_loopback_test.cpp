// The pmtu check on loopback (MTU 65536, so the ceiling is max_mtu): against a
// real `callready respond`; a responder that is missing, refuses the token or
// does not serve the port is a set-up error; a port it claims but that stays
// silent is "no responder" (nothing established). The search alone, without a
// responder: a closed port's ICMP port unreachable shows arrivals (reduced
// mode). ICMP Fragmentation Needed and black holes need the namespace lab
// (tests/lab/pmtu_*).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "checks/pmtu/pmtu_search.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// `control`: the scan's --responder control port.
CheckOutcome run_pmtu(const json& params, unsigned short control, const std::string& token = "") {
  const CheckKind* kind = find_check_kind("pmtu");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 15s, settings, link, nullptr};
  return test::run_io(io, kind->run(params, ctx));
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> c;
  for (const auto& f : o.findings) c.push_back(f.code);
  return c;
}

void expect_setup(const CheckOutcome& o) {
  INFO(o.details.dump(2));
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
  CHECK(o.error->operation == Operation::control);
  CHECK(o.findings.empty());
  CHECK(o.details["path_mtu"].is_null());
  CHECK(o.details["thresholds"]["warning_below"] == 1500);
}

}  // namespace

TEST_CASE("against the responder: the ceiling is found in few probes, no finding") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1, {"--token", "s3cret"});
  auto udp = r.udp_first;
  auto o = run_pmtu({{"host", "127.0.0.1"}, {"port", udp}}, r.control, "s3cret");
  const auto& d = o.details;
  INFO(d.dump(2));
  CHECK_FALSE(o.error);
  CHECK(d["path_mtu"] == 1500);
  CHECK(d["method"] == "responder");
  CHECK(d["icmp_seen"] == false);
  CHECK(d["black_hole"] == false);
  CHECK(d["upper_bound_reached"] == true);
  CHECK(d["probes_sent"] == 2);  // the baseline and the ceiling
  CHECK(d["thresholds"] == json{{"warning_below", 1500},
                                {"critical_below", 1300},
                                {"sip_message_bytes", 1300},
                                {"sip_fragmentation_below", 1328}});
  CHECK(codes(o).empty());

  // Jumbo ceiling: still exact, still two probes (loopback carries 65536).
  auto big = run_pmtu({{"host", "127.0.0.1"}, {"port", udp}, {"max_mtu", 9000}}, r.control, "s3cret");
  CHECK(big.details["path_mtu"] == 9000);
  CHECK(big.details["probes_sent"] == 2);

  // Thresholds from the params are the ones judged and written down.
  auto strict =
      run_pmtu({{"host", "127.0.0.1"}, {"port", udp}, {"max_mtu", 1400}, {"minimum_mtu", 1450}}, r.control, "s3cret");
  CHECK(strict.details["path_mtu"] == 1400);
  CHECK(strict.details["thresholds"]["critical_below"] == 1450);
  CHECK(codes(strict) == std::vector<std::string>{"pmtu.below_minimum"});

  SUBCASE("a wrong token is a set-up error, not a path without replies") {
    expect_setup(run_pmtu({{"host", "127.0.0.1"}, {"port", udp}}, r.control, "wrong"));
  }
  SUBCASE("a port the responder does not serve is a set-up error") {
    auto o2 = run_pmtu({{"host", "127.0.0.1"}, {"port", test::free_port(true)}}, r.control, "s3cret");
    expect_setup(o2);
    CHECK(o2.error->message.find("does not serve udp_echo on port") != std::string::npos);
  }
  SUBCASE("control_port overrides the scan's") {
    auto o3 =
        run_pmtu({{"host", "127.0.0.1"}, {"port", udp}, {"control_port", r.control}}, test::free_port(), "s3cret");
    CHECK_FALSE(o3.error);
    CHECK(o3.details["path_mtu"] == 1500);
  }
}

TEST_CASE("no responder at all is a set-up error") {
  expect_setup(run_pmtu({{"host", "127.0.0.1"}, {"port", test::free_port(true)}}, test::free_port()));
}

TEST_CASE("a served port that stays silent: the path MTU is reported as not established") {
  // A bound socket that never answers: no reply, no ICMP.
  asio::io_context io;
  asio::ip::udp::socket sink(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = sink.local_endpoint().port();
  test::FakeControl control(json{{"udp_echo", json::array({std::to_string(port)})}});
  auto o = run_pmtu({{"host", "127.0.0.1"}, {"port", port}, {"probe_timeout_ms", 50}}, control.port());
  const auto& d = o.details;
  INFO(d.dump(2));
  CHECK_FALSE(o.error);
  CHECK(d["path_mtu"].is_null());
  CHECK(d["method"] == "icmp_hint_only");
  CHECK(d["icmp_seen"] == false);
  CHECK(d["undetermined"].get<std::string>().find("could not be established") != std::string::npos);
  REQUIRE(codes(o) == std::vector<std::string>{"pmtu.no_responder"});
  CHECK(o.findings[0].operation == Operation::receive);
}

TEST_CASE("the search alone, reduced mode: a closed port's ICMP port unreachable shows that each size arrived") {
  auto closed = test::free_port(true);
  asio::io_context io;
  checks::pmtu::SearchOptions so;
  so.target = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), closed);
  so.max_mtu = 1400;
  auto s = test::run_io(io, checks::pmtu::search_path_mtu(so));
  CHECK_FALSE(s.error);
  CHECK(s.method == "icmp_port_unreachable");
  CHECK(s.path_mtu == 1400);
  CHECK_FALSE(s.black_hole);
  CHECK(s.upper_bound_reached);
}

TEST_CASE("params are validated with their path") {
  const CheckKind* kind = find_check_kind("pmtu");
  REQUIRE(kind);
  CHECK(kind->validate(json{{"port", 5004}}).at(0).path == "host");
  CHECK(kind->validate(json{{"host", "h"}}).at(0).path == "port");
  CHECK(kind->validate(json{{"host", "h"}, {"port", 5004}, {"max_mtu", 100}}).at(0).path == "max_mtu");
  CHECK(kind->validate(json{{"host", "h"}, {"port", 5004}, {"control_port", 70000}}).at(0).path == "control_port");
  CHECK(kind->target(json{{"host", "h"}, {"port", 5004}}) == "h:5004");
  CHECK(kind->target(json{{"host", "2001:db8::1"}, {"port", 5004}}) == "[2001:db8::1]:5004");
}
