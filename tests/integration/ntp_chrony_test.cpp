// The `ntp` check against chronyd (a real NTP server, `local stratum 8`, -x:
// it never touches the system clock) on a free loopback port, and against a
// silent socket and a closed port. The lab test compares with ntpdig.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <cmath>
#include <memory>

#include "checks/ntp/ntp_check.hpp"
#include "checks/ntp/ntp_codec.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "tests/support/process.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

CheckOutcome run_ntp_check(const json& params, std::chrono::milliseconds limit) {
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  net::ResponderLink link(io.get_executor(), net::kDefaultControlPort, settings.token);
  auto kind = checks::ntp_check_kind();
  REQUIRE(kind.validate(params).empty());
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + limit, settings, link, [](const std::string&) {}};
  auto f = asio::co_spawn(io, kind.run(params, ctx), asio::use_future);
  io.run();
  auto outcome = f.get();
  INFO(outcome.details.dump());
  CHECK_FALSE(outcome.error.has_value());
  return outcome;
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> out;
  for (const auto& f : o.findings)
    if (f.severity != Severity::info) out.push_back(f.code);
  return out;
}

// One blocking SNTP request: true when a server answers within 200 ms.
bool answers(unsigned short port) {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::v4());
  auto request = checks::ntp::client_request(checks::ntp::random_nonce());
  boost::system::error_code ec;
  s.send_to(asio::buffer(request), {asio::ip::make_address("127.0.0.1"), port}, 0, ec);
  pollfd p{s.native_handle(), POLLIN, 0};
  if (ec || ::poll(&p, 1, 200) != 1) return false;
  std::array<std::uint8_t, 512> buf;
  return s.receive(asio::buffer(buf), 0, ec) >= checks::ntp::kHeaderSize && !ec;
}

struct Chrony {
  TempDir dir;
  unsigned short port = 0;
  std::unique_ptr<ChildProcess> process;

  Chrony() {
    port = free_port(true);
    dir.write("chrony.conf", "local stratum 8\nallow all\nbindaddress 127.0.0.1\nport " + std::to_string(port) +
                                 "\ncmdport 0\npidfile " + dir.file("chronyd.pid") + "\ndriftfile " +
                                 dir.file("drift") + "\n");
    process = std::make_unique<ChildProcess>(
        std::vector<std::string>{"chronyd", "-d", "-x", "-f", dir.file("chrony.conf")}, dir.file("chronyd.log"));
    REQUIRE_MESSAGE(wait_until([&] { return answers(port); }, std::chrono::seconds(10)), process->log());
  }
};

}  // namespace

TEST_CASE("chronyd on loopback: 4 samples, stratum 8, the same clock within 1 ms") {
  if (!have_program("chronyd")) CALLREADY_SKIP("chrony not installed (scripts/install-deps.sh)");
  Chrony chrony;
  auto t = run_ntp_check({{"host", "127.0.0.1"}, {"port", chrony.port}}, std::chrono::seconds(15));
  const auto& d = t.details;
  CHECK(codes(t).empty());
  CHECK(d["server"] == "127.0.0.1");
  CHECK(d["address"] == "127.0.0.1");
  CHECK(d["reachable"] == true);
  CHECK(d["outcome"] == "answered");
  CHECK(d["stratum"] == 8);
  CHECK(d["leap"] == "none");
  CHECK(d["version"] == 4);
  CHECK(d["kiss_code"].is_null());
  CHECK(d["refid"].is_string());
  CHECK(d["requests_sent"] == 4);
  REQUIRE(d["samples"].size() == 4);
  // chronyd serves this machine's own clock: what is left is timestamping noise.
  CHECK(std::abs(d["offset_ms"].get<double>()) < 1.0);
  CHECK(d["delay_ms"].get<double>() < 5.0);
  CHECK(d["root_distance_ms"].get<double>() < 1500);
  CHECK(d["local_clock"]["known"] == true);
  double lowest = 1e9;
  for (const auto& s : d["samples"]) lowest = std::min(lowest, s["delay_ms"].get<double>());
  CHECK(d["delay_ms"].get<double>() == lowest);
}

TEST_CASE("samples 1: one request, one reply") {
  if (!have_program("chronyd")) CALLREADY_SKIP("chrony not installed (scripts/install-deps.sh)");
  Chrony chrony;
  auto t = run_ntp_check({{"host", "127.0.0.1"}, {"port", chrony.port}, {"samples", 1}}, std::chrono::seconds(5));
  CHECK(t.details["requests_sent"] == 1);
  CHECK(t.details["samples"].size() == 1);
  CHECK(t.details["outcome"] == "answered");
}

TEST_CASE("a socket that never answers: ntp.silent after 2 requests and 2.5 s") {
  asio::io_context io;
  asio::ip::udp::socket silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = silent.local_endpoint().port();
  auto t = run_ntp_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(15));
  CHECK(codes(t) == std::vector<std::string>{"ntp.silent"});
  CHECK(t.details["outcome"] == "silent");
  CHECK(t.details["requests_sent"] == 2);
  CHECK(t.details["reachable"] == false);
}

TEST_CASE("a closed port: ntp.port_closed from the server's own ICMP error") {
  auto port = free_port(true);
  auto t = run_ntp_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(5));
  CHECK(codes(t) == std::vector<std::string>{"ntp.port_closed"});
  CHECK(t.details["closed_port"] == true);
  CHECK(t.details["requests_sent"] == 1);
}
