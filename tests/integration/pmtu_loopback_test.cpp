// The pmtu check on loopback (MTU 65536, so the ceiling is max_mtu): against a
// real `callready respond`, in the reduced mode toward a closed port (ICMP port
// unreachable shows arrival), and toward a silent target (nothing established).
// ICMP Fragmentation Needed and black holes need the namespace lab (tests/lab/pmtu_*).
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "probe/net/resolver.hpp"
#include "probe/registry.hpp"
#include "tests/support/process.hpp"

using namespace callready;
namespace asio = boost::asio;

namespace {

CheckOutcome run_pmtu(const json& params, const std::string& token = "") {
  const CheckKind* kind = find_check_kind("pmtu");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + std::chrono::seconds(15), settings, nullptr};
  std::optional<CheckOutcome> result;
  asio::co_spawn(io, kind->run(params, ctx), [&](std::exception_ptr e, CheckOutcome o) {
    REQUIRE_FALSE(e);
    result = std::move(o);
  });
  io.run_for(std::chrono::seconds(20));
  REQUIRE(result);
  return std::move(*result);
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> c;
  for (const auto& f : o.findings) c.push_back(f.code);
  return c;
}

}  // namespace

TEST_CASE("against the responder: the ceiling is found in few probes, no finding") {
  auto udp = test::free_port(true);
  auto control = test::free_port();
  test::TempDir dir;
  test::ChildProcess responder({CALLREADY_BINARY, "respond", "--listen", "127.0.0.1:" + std::to_string(control),
                                "--bind", "127.0.0.1", "--udp-ports", std::to_string(udp), "--token", "s3cret"},
                               dir.file("responder.log"));
  REQUIRE(test::wait_for_tcp("127.0.0.1", control, std::chrono::seconds(5)));
  auto o = run_pmtu({{"host", "127.0.0.1"}, {"port", udp}}, "s3cret");
  const auto& d = o.details;
  INFO(d.dump(2));
  CHECK_FALSE(o.error);
  CHECK(d["path_mtu"] == 1500);
  CHECK(d["method"] == "responder");
  CHECK(d["icmp_seen"] == false);
  CHECK(d["black_hole"] == false);
  CHECK(d["upper_bound_reached"] == true);
  CHECK(d["probes_sent"] == 2);  // the baseline and the ceiling
  CHECK(codes(o).empty());

  // Jumbo ceiling: still exact, still two probes (loopback carries 65536).
  auto big = run_pmtu({{"host", "127.0.0.1"}, {"port", udp}, {"max_mtu", 9000}}, "s3cret");
  CHECK(big.details["path_mtu"] == 9000);
  CHECK(big.details["probes_sent"] == 2);

  // A wrong token: the responder stays silent, so nothing is confirmed.
  auto wrong = run_pmtu({{"host", "127.0.0.1"}, {"port", udp}, {"probe_timeout_ms", 100}}, "wrong");
  CHECK(wrong.details["path_mtu"].is_null());
  CHECK(codes(wrong) == std::vector<std::string>{"pmtu.no_responder"});
}

TEST_CASE("reduced mode: a closed port's ICMP port unreachable shows that each size arrived") {
  auto closed = test::free_port(true);
  auto o = run_pmtu({{"host", "127.0.0.1"}, {"port", closed}, {"max_mtu", 1400}});
  const auto& d = o.details;
  INFO(d.dump(2));
  CHECK(d["method"] == "icmp_port_unreachable");
  CHECK(d["path_mtu"] == 1400);
  CHECK(d["black_hole"] == false);
  // 1400 < 1500: the recommendation is not met on this (artificially capped) path.
  CHECK(codes(o) == std::vector<std::string>{"pmtu.below_recommended"});
  CHECK(o.summary.find("reduced mode") != std::string::npos);
}

TEST_CASE("a silent target: the path MTU is reported as not established") {
  // A bound socket that never answers: no reply, no ICMP.
  asio::io_context io;
  asio::ip::udp::socket sink(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto o = run_pmtu({{"host", "127.0.0.1"}, {"port", sink.local_endpoint().port()}, {"probe_timeout_ms", 50}});
  const auto& d = o.details;
  INFO(d.dump(2));
  CHECK(d["path_mtu"].is_null());
  CHECK(d["method"] == "icmp_hint_only");
  CHECK(d["icmp_seen"] == false);
  CHECK(d["undetermined"].get<std::string>().find("could not be established") != std::string::npos);
  CHECK(codes(o) == std::vector<std::string>{"pmtu.no_responder"});
}
