// The `stun` check against coturn, a STUN server nobody here wrote, on
// loopback (127.0.0.1 + 127.0.0.2 for RFC 5780), and against silence.
#include "tests/integration/stun_support.hpp"

using namespace callready;
using namespace callready::test;
using nlohmann::json;

TEST_CASE(
    "stun over UDP against coturn with RFC 5780: reachable, no NAT, no ALG, both behaviours endpoint-independent") {
  if (!have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  Coturn coturn(true);
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", coturn.port}}, std::chrono::seconds(20));
  const auto& d = t.details;
  INFO(d.dump());
  CHECK(d["server"] == "127.0.0.1");
  CHECK(d["port"] == coturn.port);
  CHECK(d["transport"] == "udp");
  CHECK(d["reachable"] == true);
  CHECK(d["rtt_ms"].is_number());
  CHECK(d["software"].get<std::string>().find("Coturn") != std::string::npos);
  // Loopback has no NAT: the server sees exactly our socket.
  CHECK(d["local_address"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  CHECK(d["mapped_address"] == d["local_address"]);
  CHECK(d["nat"] == false);
  CHECK(d["alg_suspected"] == false);
  CHECK(d["other_address"] == "127.0.0.2:" + std::to_string(coturn.port + 1));
  CHECK(d["mapping_behavior"] == "endpoint-independent");
  CHECK(d["filtering_behavior"] == "endpoint-independent");
  for (const auto& f : t.findings) CHECK(f.severity == Severity::info);
}

TEST_CASE("stun over TCP against coturn: one framed Binding on a connection") {
  if (!have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  Coturn coturn(true);
  auto t =
      run_stun_check({{"host", "127.0.0.1"}, {"port", coturn.port}, {"transport", "tcp"}}, std::chrono::seconds(10));
  const auto& d = t.details;
  CHECK(d["transport"] == "tcp");
  CHECK(d["reachable"] == true);
  CHECK(d["mapped_address"] == d["local_address"]);
  CHECK(d["nat"] == false);
  CHECK(d["mapping_behavior"].get<std::string>().rfind("unknown: not tested over TCP", 0) == 0);
}

TEST_CASE("coturn with one listening IP offers no OTHER-ADDRESS: behaviours unknown, never guessed") {
  if (!have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  Coturn coturn(false);
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", coturn.port}}, std::chrono::seconds(10));
  const auto& d = t.details;
  CHECK(d["reachable"] == true);
  CHECK(d["other_address"].is_null());
  CHECK(d["mapping_behavior"] == "unknown: server lacks RFC 5780");
  CHECK(d["filtering_behavior"] == "unknown: server lacks RFC 5780");
  CHECK(has_finding(t, "stun.no_rfc5780", Severity::info));
}

TEST_CASE("nat_discovery false skips the RFC 5780 tests") {
  if (!have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  Coturn coturn(true);
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", coturn.port}, {"nat_discovery", false}},
                          std::chrono::seconds(10));
  CHECK(t.details["reachable"] == true);
  CHECK(t.details["mapping_behavior"] == "unknown: not tested (nat_discovery is false)");
  CHECK(t.details["other_address"] == "127.0.0.2:" + std::to_string(coturn.port + 1));
}

TEST_CASE("silence: retransmits per RFC 5389 until the deadline, then a critical finding naming UDP and the port") {
  RawUdp silent;  // bound and never read: no answer and no ICMP error
  auto port = silent.port();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::milliseconds(3000));
  const auto& d = t.details;
  CHECK(d["reachable"] == false);
  CHECK(d["mapped_address"].is_null());
  // Budget 3000 ms less the 10% reserve: sends at 0, 500 and 1500 ms; the next (3500 ms) never comes.
  CHECK(d["requests_sent"] == 3);
  REQUIRE(has_finding(t, "stun.no_response", Severity::critical));
  for (const auto& f : t.findings)
    if (f.code == "stun.no_response") {
      CHECK(f.remediation.find("UDP " + std::to_string(port)) != std::string::npos);
      CHECK(f.message.find("UDP port " + std::to_string(port)) != std::string::npos);
      CHECK(f.operation == Operation::receive);
    }
  CHECK(d["icmp"].is_null());
  CHECK(d["closed_port"] == false);
  CHECK(d["wait_basis"] == "timeout");    // no RTT to 127.0.0.1 known in this scan
  CHECK(d["wait_ms"].get<int>() > 2600);  // the budget: 3000 ms less the reserve
  CHECK(d["wait_ms"].get<int>() <= 2700);
}

TEST_CASE("silence with an RTT to the address known in the scan: max(4 x RTT, 250 ms), not the RFC 5389 schedule") {
  RawUdp silent;  // bound and never read
  auto port = silent.port();
  // Another check of the same scan measured 80 ms to 127.0.0.1: silence after 320 ms.
  auto known = [](const boost::asio::any_io_executor& ex) {
    net::path_rtt(ex).record(boost::asio::ip::make_address("127.0.0.1"), std::chrono::milliseconds(80));
  };
  auto started = std::chrono::steady_clock::now();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20), {}, known);
  auto elapsed = std::chrono::steady_clock::now() - started;
  const auto& d = t.details;
  INFO(d.dump());
  CHECK(d["reachable"] == false);
  CHECK(d["requests_sent"] == 3);  // at 0, 80 and 240 ms
  CHECK(d["wait_ms"] == 320);
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["path_rtt_ms"] == 80.0);
  CHECK(has_finding(t, "stun.no_response", Severity::critical));
  CHECK(elapsed < std::chrono::milliseconds(320 + 500));  // before: 18 s of the 20 s budget
}

TEST_CASE("a closed UDP port: the first ICMP port unreachable ends the check within one RTT + 50 ms") {
  if (!have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  // The open case first, against coturn: its RTT is this path's.
  Coturn coturn(false);
  auto open = run_stun_check({{"host", "127.0.0.1"}, {"port", coturn.port}}, std::chrono::seconds(10));
  REQUIRE(open.details["reachable"] == true);
  double rtt_ms = open.details["rtt_ms"].get<double>();
  auto port = free_udp_block(1);  // nothing listens there: the kernel answers ICMP port unreachable
  auto started = std::chrono::steady_clock::now();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const auto& d = t.details;
  INFO(d.dump());
  MESSAGE("closed port answered in " << elapsed_ms << " ms; coturn's RTT " << rtt_ms << " ms");
  CHECK(elapsed_ms <= rtt_ms + 50);  // before: the whole schedule (18 s of the 20 s budget)
  CHECK(d["reachable"] == false);
  CHECK(d["requests_sent"] == 1);
  CHECK(d["closed_port"] == true);
  CHECK(d["icmp"] == "ICMP port unreachable from 127.0.0.1");
  REQUIRE(t.findings.size() == 1);
  const auto& f = t.findings.front();
  CHECK(f.code == "stun.port_closed");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("nothing listens on that port") != std::string::npos);
  CHECK(f.remediation.find("Allow outbound") == std::string::npos);  // no firewall advice
  CHECK(t.summary.rfind("closed port: 127.0.0.1 answered that nothing listens on UDP " + std::to_string(port), 0) == 0);
}

TEST_CASE("TCP to a closed port: connect refused is a critical finding naming TCP and the port") {
  auto port = free_port();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}, {"transport", "tcp"}}, std::chrono::seconds(5));
  CHECK(t.details["reachable"] == false);
  REQUIRE(has_finding(t, "stun.tcp_connect_failed", Severity::critical));
  CHECK(t.findings.front().remediation.find("TCP " + std::to_string(port)) != std::string::npos);
  CHECK(t.findings.front().operation == Operation::connect);
  CHECK(t.findings.front().message.find("refused") != std::string::npos);
}
