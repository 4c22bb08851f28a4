// udp_range's judge, details and view from hand-built results: every finding
// code, its severity and operation; no sockets.
#include <doctest/doctest.h>

#include <numeric>

#include "checks/udp_range/udp_range_check.hpp"

using namespace callready;
using namespace callready::checks;

namespace {

std::vector<std::uint16_t> span(std::uint16_t first, std::uint16_t last) {
  std::vector<std::uint16_t> v(last - first + 1);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<std::uint16_t> operator+(std::vector<std::uint16_t> a, const std::vector<std::uint16_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

UdpRangeParams params(std::vector<std::uint16_t> ports) {
  UdpRangeParams p;
  p.host = "responder.example.test";
  p.ports = std::move(ports);
  return p;
}

// All of `ports` swept; `open` of them answered.
UdpRangeResult swept(const std::vector<std::uint16_t>& ports) {
  UdpRangeResult r;
  r.host = "responder.example.test";
  r.address = "203.0.113.10";
  r.control = "ok";
  r.swept = ports;
  r.attempts = 3;
  r.rounds = 1;
  r.max_pps = 200;
  r.probes_sent = ports.size();
  return r;
}

const Finding& only(const Judgement& j) {
  REQUIRE(j.findings.size() == 1);
  return j.findings[0];
}

}  // namespace

TEST_CASE("every port open: no finding, the summary counts them") {
  auto r = swept(span(8500, 8599));
  r.open = r.swept;
  r.rtt_ms = 1.25;
  auto j = judge_udp_range(r, params(r.swept));
  CHECK(j.findings.empty());
  CHECK(j.summary == "100 of 100 UDP ports open on responder.example.test (median RTT 1.25 ms)");
}

TEST_CASE("udp_range.no_address: the resolve failure, operation resolve") {
  UdpRangeResult r;
  r.host = "nowhere.example.test";
  r.unresolved = checks::TargetAddresses{"nowhere.example.test", {}, net::DnsFailure::nxdomain, ""};
  auto j = judge_udp_range(r, params(span(1, 2)));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.no_address");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::resolve);
  CHECK(f.message.find("nowhere.example.test could not be resolved (nxdomain") != std::string::npos);
  CHECK(j.summary == f.message);
  json d = r;
  CHECK(d == json{{"host", "nowhere.example.test"},
                  {"ports_tested", 0},
                  {"open", json::array()},
                  {"blocked", json::array()},
                  {"rejected", json::array()},
                  {"untested", json::array()}});
}

TEST_CASE("udp_range.blocked: silence after every attempt, critical, operation receive") {
  auto r = swept(span(20000, 20099));
  r.open = span(20000, 20049);
  r.blocked = span(20050, 20099);
  r.rounds = 3;
  auto j = judge_udp_range(r, params(r.swept));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.blocked");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("UDP 20050-20099 after 3 attempts") != std::string::npos);
  CHECK(f.remediation == "Allow outbound UDP to 203.0.113.10 ports 20050-20099, and the replies back");
  CHECK(j.summary == "50 of 100 UDP ports open on responder.example.test, blocked 20050-20099");

  SUBCASE("with source ports the remediation names them") {
    r.source_ports_requested = true;
    r.source_ports_used = span(40000, 40002);
    CHECK(only(judge_udp_range(r, params(r.swept))).remediation.find("from local ports 40000-40002 to") !=
          std::string::npos);
  }
}

TEST_CASE("udp_range.rejected: ICMP from the path, critical, operation send") {
  auto r = swept(span(20100, 20149));
  const std::string icmp = "ICMP type 3 code 13 from 198.18.0.1";
  r.rejected.resize(r.swept.size());
  for (std::size_t i = 0; i < r.swept.size(); ++i) r.rejected[i].port = r.swept[i], r.rejected[i].icmp = icmp;
  auto j = judge_udp_range(r, params(r.swept));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.rejected");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::send);
  CHECK(f.message ==
        "UDP 20100-20149 to responder.example.test was refused (ICMP type 3 code 13 from 198.18.0.1): a firewall on "
        "the path rejects these ports");
  CHECK(j.summary.find("rejected 20100-20149") != std::string::npos);
}

TEST_CASE("udp_range.closed_at_responder: ICMP port unreachable from the target itself, warning, operation send") {
  auto r = swept(span(1, 4));
  r.open = span(1, 2);
  r.rejected = {{3, "ICMP port unreachable from 203.0.113.10", true},
                {4, "ICMP port unreachable from 203.0.113.10", true}};
  auto j = judge_udp_range(r, params(r.swept));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.closed_at_responder");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::send);
  CHECK(f.message.find("UDP 3-4") != std::string::npos);
}

TEST_CASE("udp_range.not_served: untested, a warning about the set-up, operation control, never blocked") {
  auto r = swept(span(9000, 9009));
  r.open = r.swept;
  r.not_served = span(9010, 9019);
  auto j = judge_udp_range(r, params(span(9000, 9019)));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.not_served");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::control);
  CHECK(f.message.find("does not serve UDP 9010-9019") != std::string::npos);
  CHECK(f.remediation == "Start the responder with --udp-ports covering 9000-9019");
  CHECK(j.summary == "10 of 10 UDP ports open on responder.example.test, not served 9010-9019");
  json d = r;
  CHECK(d["ports_tested"] == 10);
  CHECK(d["untested"] == json::array({"9010-9019"}));
  CHECK(d["not_served"] == json::array({"9010-9019"}));
  CHECK(d["blocked"] == json::array());
}

TEST_CASE("udp_range.incomplete: the time limit cut the sweep, warning, operation send") {
  auto r = swept(span(1, 10));
  r.open = span(1, 6);
  r.cut_off = span(7, 10);
  r.cut_short = true;
  auto j = judge_udp_range(r, params(r.swept));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.incomplete");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::send);
  CHECK(f.message.find("UDP 7-10 were not probed every time") != std::string::npos);
  json d = r;
  CHECK(d["untested"] == json::array({"7-10"}));
}

TEST_CASE("the details: contract keys as merged ranges, and what the sweep saw") {
  auto r = swept(span(5004, 5004) + span(9000, 9003) + span(19560, 19661));
  r.open = span(5004, 5004) + span(19560, 19661);
  r.blocked = span(9000, 9001);
  r.rejected = {{9002, "ICMP port unreachable from 198.18.0.1", false}, {9003, "x", true}};
  r.observed_source = "198.51.100.7:40001";
  r.rtt_ms = 0.5;
  r.source_ports_requested = true;
  r.source_ports_used = {40000, 40001};
  r.source_ports_unavailable = {40002};
  json d = r;
  CHECK(d["host"] == "responder.example.test");
  CHECK(d["ports_tested"] == 107);
  CHECK(d["open"] == json::array({"5004", "19560-19661"}));
  CHECK(d["blocked"] == json::array({"9000-9001"}));
  CHECK(d["rejected"] == json::array({"9002-9003"}));
  CHECK(d["untested"] == json::array());
  CHECK(d["address"] == "203.0.113.10");
  CHECK(d["control"] == "ok");
  CHECK(d["rtt_ms"] == 0.5);
  CHECK(d["observed_source"] == "198.51.100.7:40001");
  CHECK(d["source_ports"] == json::array({"40000-40001"}));
  CHECK(d["source_ports_unavailable"] == json::array({"40002"}));
  CHECK(d["rejected_by"][1] == json{{"port", 9003}, {"icmp", "x"}, {"by_target", true}});
  CHECK_FALSE(d.contains("not_served"));
}

TEST_CASE("the view: one port strip from the details alone") {
  auto r = swept(span(1, 10));
  r.open = span(1, 5);
  r.blocked = span(6, 7);
  r.rejected = {{8, "x", false}};
  r.not_served = span(11, 12);
  r.cut_off = span(9, 10);
  auto v = udp_range_view(json(r));
  REQUIRE(v.blocks.size() == 1);
  const auto* strip = std::get_if<view::PortStrip>(&v.blocks[0]);
  REQUIRE(strip);
  CHECK(strip->caption == "UDP ports per tested range");
  REQUIRE(strip->spans.size() == 4);
  auto at = [&](std::size_t i, std::uint16_t first, std::uint16_t last, view::PortState state) {
    CHECK(strip->spans[i].first == first);
    CHECK(strip->spans[i].last == last);
    CHECK(strip->spans[i].state == state);
  };
  at(0, 1, 5, view::PortState::open);
  at(1, 6, 7, view::PortState::blocked);
  at(2, 8, 8, view::PortState::rejected);
  at(3, 9, 12, view::PortState::untested);  // cut off and not served, merged
  CHECK(v.shown_keys == std::vector<std::string>{"open", "other_answer", "blocked", "rejected", "untested"});

  SUBCASE("a port something else answers on is drawn open: the path reaches it") {
    auto w = udp_range_view(json{{"open", {"1-2"}}, {"other_answer", {"3"}}});
    const auto& spans = std::get<view::PortStrip>(w.blocks[0]).spans;
    REQUIRE(spans.size() == 2);
    CHECK(spans[1].first == 3);
    CHECK(spans[1].state == view::PortState::open);
  }

  SUBCASE("entries that are not port ranges are left out, never a crash") {
    auto w = udp_range_view(json{{"open", {"<script>", "1-2", 7}}, {"blocked", "9"}, {"rejected", {"5-1"}}});
    REQUIRE(w.blocks.size() == 1);
    CHECK(std::get<view::PortStrip>(w.blocks[0]).spans.size() == 1);
  }
  SUBCASE("nothing to draw: no block, every key left to the generic table") {
    auto w = udp_range_view(json{{"host", "h"}, {"open", json::array()}});
    CHECK(w.blocks.empty());
    CHECK(w.shown_keys.empty());
  }
}

TEST_CASE("udp_range.other_answer: a port answered with no echo reply, open but inconclusive, never blocked") {
  auto r = swept(span(20200, 20203));
  r.open = span(20200, 20201);
  r.foreign = span(20202, 20203);
  auto j = judge_udp_range(r, params(r.swept));
  const auto& f = only(j);
  CHECK(f.code == "udp_range.other_answer");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::receive);
  CHECK(f.inconclusive);
  CHECK(f.message.find("UDP 20202-20203 on responder.example.test answered, but not with the responder's echo") == 0);
  CHECK(f.remediation.find("203.0.113.10") != std::string::npos);
  nlohmann::json d = r;
  CHECK(d["other_answer"] == nlohmann::json::array({"20202-20203"}));
  CHECK(d["blocked"] == nlohmann::json::array());
  CHECK(j.summary.find("answered by something else 20202-20203") != std::string::npos);
}
