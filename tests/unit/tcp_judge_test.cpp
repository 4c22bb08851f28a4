// The tcp kind's judge, details and view, from hand-built results: every
// finding code, no sockets.
#include <doctest/doctest.h>

#include "checks/tcp/tcp_check.hpp"

using namespace callready;
using namespace callready::checks::tcp;
using boost::asio::ip::make_address;
using net::NetFailure;

namespace {

TcpParams params(const std::string& host = "sbc.example.test", std::uint16_t port = 5061) {
  TcpParams p;
  p.host = host;
  p.port = port;
  return p;
}

TcpAttempt connected(const char* address, double rtt) {
  TcpAttempt a;
  a.address = make_address(address);
  a.connected = true;
  a.rtt_ms = rtt;
  return a;
}

TcpAttempt failed(const char* address, NetFailure failure, std::string message = {}) {
  TcpAttempt a;
  a.address = make_address(address);
  a.failure = failure;
  a.rtt_ms = 3000;
  a.message = std::move(message);
  return a;
}

TcpResult result(std::vector<TcpAttempt> attempts, const std::string& host = "sbc.example.test") {
  TcpResult r;
  r.host = host;
  r.port = 5061;
  r.resolved.host = host;
  for (const auto& a : attempts) r.resolved.addresses.push_back(a.address);
  r.attempts = std::move(attempts);
  return r;
}

}  // namespace

TEST_CASE("tcp judge: a connection passes and the fastest address is reported") {
  auto r = result({connected("203.0.113.10", 12.5), connected("2001:db8::10", 8.25)});
  auto j = judge_tcp(r, params());
  CHECK(j.findings.empty());
  CHECK(j.summary == "connected to sbc.example.test:5061 (2001:db8::10) in 8.25 ms");
}

TEST_CASE("tcp judge: no address connected is one critical finding of operation connect") {
  struct Case {
    NetFailure failure;
    const char* code;
    const char* words;
  };
  for (const auto& c : {Case{NetFailure::refused, "tcp.refused", "refused the connection"},
                        Case{NetFailure::timeout, "tcp.timeout", "did not answer"},
                        Case{NetFailure::unreachable, "tcp.unreachable", "is unreachable"},
                        Case{NetFailure::reset, "tcp.reset", "reset the connection"},
                        Case{NetFailure::other, "tcp.other", "Protocol error"}}) {
    CAPTURE(c.code);
    auto r = result({failed("203.0.113.10", c.failure, "Protocol error"), failed("2001:db8::10", NetFailure::timeout)});
    auto j = judge_tcp(r, params());
    REQUIRE(j.findings.size() == 1);
    const auto& f = j.findings[0];
    CHECK(f.code == c.code);
    CHECK(f.severity == Severity::critical);
    CHECK(f.operation == Operation::connect);
    CHECK(f.message.find(c.words) != std::string::npos);
    CHECK(f.message.find("(203.0.113.10, 2001:db8::10)") != std::string::npos);
    CHECK(f.remediation ==
          "Allow outbound TCP 5061 from this network to sbc.example.test (203.0.113.10, 2001:db8::10) on the firewall "
          "and any proxy");
    CHECK(j.summary.rfind("sbc.example.test:5061", 0) == 0);
  }
}

TEST_CASE("tcp judge: only some addresses connect is a warning per failed address") {
  auto r = result({failed("203.0.113.10", NetFailure::timeout), connected("2001:db8::10", 4)});
  auto j = judge_tcp(r, params());
  REQUIRE(j.findings.size() == 1);
  const auto& f = j.findings[0];
  CHECK(f.code == "tcp.partial");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::connect);
  CHECK(f.message.find("at 203.0.113.10 did not answer") != std::string::npos);
  CHECK(f.message.find("2001:db8::10 works") != std::string::npos);
  CHECK(f.remediation == "Allow outbound TCP 5061 to 203.0.113.10 as well, or fix its route");
  CHECK(j.summary.find("connected to") == 0);
}

TEST_CASE("tcp judge: an address this machine could not try is not a finding when another connected") {
  auto r =
      result({connected("203.0.113.10", 4), failed("2001:db8::10", NetFailure::local, "Address family not supported")});
  CHECK(judge_tcp(r, params()).findings.empty());
}

TEST_CASE("tcp judge: a name that does not resolve is no_address, operation resolve, the DNS fix") {
  TcpResult r;
  r.host = r.resolved.host = "nothing.invalid";
  r.port = 443;
  r.resolved.failure = net::DnsFailure::nxdomain;
  r.resolved.message = "Domain name not found";
  auto j = judge_tcp(r, params("nothing.invalid", 443));
  REQUIRE(j.findings.size() == 1);
  const auto& f = j.findings[0];
  CHECK(f.code == "tcp.no_address");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::resolve);
  CHECK(
      f.message ==
      "Cannot connect to nothing.invalid:443: nothing.invalid could not be resolved (nxdomain: Domain name not found)");
  CHECK(f.remediation.find("DNS works on this network") != std::string::npos);
  CHECK(j.summary == f.message);
}

TEST_CASE("tcp params: the target brackets IPv6 literals") {
  CHECK(params("2001:db8::10", 443).target() == "[2001:db8::10]:443");
  CHECK(params("sbc.example.test", 443).target() == "sbc.example.test:443");
}

TEST_CASE("tcp details: the contract keys") {
  nlohmann::json ok = result({failed("203.0.113.10", NetFailure::refused), connected("2001:db8::10", 4.5)});
  CHECK(ok["host"] == "sbc.example.test");
  CHECK(ok["port"] == 5061);
  CHECK(ok["address"] == "2001:db8::10");
  CHECK(ok["connected"] == true);
  CHECK(ok["rtt_ms"] == 4.5);
  CHECK_FALSE(ok.contains("error"));
  REQUIRE(ok["attempts"].size() == 2);
  CHECK(
      ok["attempts"][0] ==
      nlohmann::json(
          {{"address", "203.0.113.10"}, {"connected", false}, {"rtt_ms", 3000.0}, {"error", "refused"}, {"syns", 1}}));

  nlohmann::json refused = result({failed("203.0.113.10", NetFailure::refused)});
  CHECK(refused["address"] == "203.0.113.10");
  CHECK(refused["connected"] == false);
  CHECK(refused["rtt_ms"].is_null());
  CHECK(refused["error"] == "refused");

  TcpResult unresolved;
  unresolved.host = "nothing.invalid";
  unresolved.port = 443;
  nlohmann::json none = unresolved;
  CHECK(none["address"].is_null());
  CHECK(none["connected"] == false);
  CHECK(none["rtt_ms"].is_null());
  CHECK(none["error"] == "no_address");
}

TEST_CASE("tcp details and finding: why silence was given up when it was") {
  auto silent = failed("203.0.113.10", NetFailure::timeout);
  silent.silence = net::SilenceWait{Millis(250), net::WaitBasis::rtt, 1.234};
  silent.syns = 2;
  nlohmann::json d = result({silent});
  CHECK(d["wait_ms"] == 250);
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["path_rtt_ms"] == 1.23);
  CHECK(d["attempts"][0]["wait_basis"] == "rtt");
  CHECK(d["attempts"][0]["syns"] == 2);
  auto j = judge_tcp(result({silent}), params());
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "tcp.timeout");
  CHECK(j.findings[0].message ==
        "sbc.example.test:5061 (203.0.113.10) did not answer within 250 ms (4 x the 1.2 ms RTT this scan measured to "
        "it, at least 250 ms) (packets dropped on the way, or a firewall DROP)");

  auto waited_out = failed("203.0.113.10", NetFailure::timeout);
  waited_out.silence = net::SilenceWait{Millis(3000), net::WaitBasis::timeout, std::nullopt};
  nlohmann::json t = result({waited_out});
  CHECK(t["wait_ms"] == 3000);
  CHECK(t["wait_basis"] == "timeout");
  CHECK_FALSE(t.contains("path_rtt_ms"));
  CHECK(judge_tcp(result({waited_out}), params()).summary ==
        "sbc.example.test:5061 did not answer within 3000 ms (packets dropped on the way, or a firewall DROP)");

  nlohmann::json refused = result({failed("203.0.113.10", NetFailure::refused)});
  CHECK_FALSE(refused.contains("wait_ms"));
}

TEST_CASE("tcp view: one row per address tried") {
  auto v =
      tcp_view(nlohmann::json(result({failed("203.0.113.10", NetFailure::timeout), connected("2001:db8::10", 4.5)})));
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks[0]);
  CHECK(t.headers == std::vector<std::string>{"Address", "Result", "Time (ms)"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][0].text == "203.0.113.10");
  CHECK(t.rows[0][1].text == "timeout");
  CHECK(t.rows[0][1].tone == view::Tone::bad);
  CHECK(t.rows[1][1].text == "connected");
  CHECK(t.rows[1][1].tone == view::Tone::good);
  CHECK(t.rows[1][2].text == "4.5");
  CHECK(v.shown_keys == std::vector<std::string>{"attempts"});

  TcpResult unresolved;
  CHECK(tcp_view(nlohmann::json(unresolved)).blocks.empty());
}
