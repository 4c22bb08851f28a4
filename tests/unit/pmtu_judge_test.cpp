// pmtu's judge, details and view from hand-built results: every finding code,
// its severity and operation, against the thresholds the result carries; no
// sockets.
#include <doctest/doctest.h>

#include "checks/pmtu/pmtu_check.hpp"

using namespace callready;
using namespace callready::checks;

namespace {

PmtuParams params() {
  PmtuParams p;
  p.host = "203.0.113.10";
  p.port = 20400;
  return p;
}

PmtuResult measured(std::optional<int> path_mtu, bool black_hole = false, std::optional<int> icmp_mtu = {}) {
  PmtuResult r;
  r.host = "203.0.113.10";
  r.port = 20400;
  r.address = "203.0.113.10";
  r.thresholds = PmtuThresholds::of(params(), false);
  pmtu::SearchResult s;
  s.method = path_mtu ? "responder" : "icmp_hint_only";
  s.path_mtu = path_mtu;
  s.black_hole = black_hole;
  s.icmp_mtu = icmp_mtu;
  s.icmp_seen = icmp_mtu.has_value();
  s.upper_bound_reached = path_mtu == 1500;
  s.probes_sent = 4;
  s.rtt_ms = 0.123;
  s.tested = {{576, "arrived", 0}, {1500, "too_big", 1400}};
  r.search = s;
  return r;
}

std::vector<std::string> codes(const Judgement& j) {
  std::vector<std::string> c;
  for (const auto& f : j.findings) c.push_back(f.code);
  return c;
}

}  // namespace

TEST_CASE("1500 crosses: no finding") {
  auto j = judge_pmtu(measured(1500), params());
  CHECK(j.findings.empty());
  CHECK(j.summary == "path MTU 1500 bytes (the largest size tried)");
}

TEST_CASE("pmtu.no_address: the resolve failure, operation resolve") {
  PmtuResult r;
  r.host = "nowhere.example.test";
  r.port = 1;
  r.unresolved = checks::TargetAddresses{"nowhere.example.test", {}, net::DnsFailure::nxdomain, ""};
  auto j = judge_pmtu(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.no_address"});
  CHECK(j.findings[0].operation == Operation::resolve);
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.summary.find("Cannot measure the path MTU: nowhere.example.test could not be resolved") == 0);
  json d = r;
  CHECK(d["path_mtu"].is_null());
  CHECK(d["icmp_seen"] == false);
  CHECK(d["black_hole"] == false);
  CHECK(d["thresholds"]["warning_below"] == 1500);
  CHECK_FALSE(d.contains("method"));
}

TEST_CASE("pmtu.no_responder: no echo reply, the path MTU not established, operation receive") {
  SUBCASE("nothing at all") {
    auto r = measured(std::nullopt);
    auto j = judge_pmtu(r, params());
    REQUIRE(codes(j) == std::vector<std::string>{"pmtu.no_responder"});
    CHECK(j.findings[0].severity == Severity::warning);
    CHECK(j.findings[0].operation == Operation::receive);
    CHECK(j.summary == "path MTU to 203.0.113.10:20400 not established (no echo reply)");
    json d = r;
    CHECK(d["path_mtu"].is_null());
    CHECK(d["undetermined"].get<std::string>().find("could not be established") != std::string::npos);
  }
  SUBCASE("an ICMP hint only") {
    auto j = judge_pmtu(measured(std::nullopt, false, 1400), params());
    REQUIRE(codes(j) == std::vector<std::string>{"pmtu.no_responder"});
    CHECK(j.findings[0].message.find("a router reported an MTU of 1400 bytes") != std::string::npos);
    CHECK(j.summary == "path MTU not confirmed; ICMP reports a next-hop MTU of 1400");
  }
}

TEST_CASE("pmtu.rejected: an ICMP error from the path ends the search, warning, operation receive") {
  auto r = measured(std::nullopt);
  r.search->method = "none";
  r.search->tested = {{576, "rejected", 0}};
  r.search->rejected_by = "ICMP port unreachable from 198.18.0.1";
  auto j = judge_pmtu(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.rejected"});
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.findings[0].inconclusive);  // the path MTU is unknown: the rule's MTU remediation does not apply
  CHECK(j.findings[0].operation == Operation::receive);
  CHECK(j.findings[0].message ==
        "UDP 20400 to 203.0.113.10 was refused by a device on the path (ICMP port unreachable from 198.18.0.1): a "
        "firewall or router rejects it, so the path MTU could not be measured");
  CHECK(j.findings[0].remediation == "Allow UDP 20400 to 203.0.113.10 (and its replies) on the firewall");
  CHECK(j.summary ==
        "path MTU to 203.0.113.10:20400 not measured: UDP 20400 rejected on the path (ICMP port "
        "unreachable from 198.18.0.1)");
  json d = r;
  CHECK(d["rejected_by"] == "ICMP port unreachable from 198.18.0.1");
  CHECK(d["tested"][0]["result"] == "rejected");
}

TEST_CASE("pmtu.black_hole: larger packets vanish without ICMP, critical, operation receive") {
  auto j = judge_pmtu(measured(1400, true), params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.black_hole", "pmtu.below_recommended"});
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::receive);
  CHECK(j.findings[0].remediation.find("Fragmentation Needed") != std::string::npos);
  CHECK(j.summary.find("black hole") != std::string::npos);
}

TEST_CASE("pmtu.below_recommended: warning, a measurement (no operation)") {
  auto j = judge_pmtu(measured(1400, false, 1400), params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.below_recommended"});
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.findings[0].operation == Operation::none);
  CHECK(j.findings[0].message == "The path MTU to 203.0.113.10 is 1400 bytes, below the recommended 1500 bytes");
  CHECK(j.summary == "path MTU 1400 bytes, ICMP Fragmentation Needed seen");
}

TEST_CASE("IPv6: the summary and the black-hole finding name ICMPv6 Packet Too Big, not Fragmentation Needed") {
  auto r = measured(1400, false, 1400);
  r.host = "2001:db8:2::10";
  r.address = "2001:db8:2::10";
  auto p = params();
  p.host = "2001:db8:2::10";
  auto j = judge_pmtu(r, p);
  CHECK(j.summary == "path MTU 1400 bytes, ICMPv6 Packet Too Big seen");
  CHECK(j.summary.find("Fragmentation Needed") == std::string::npos);
  r.search->black_hole = true;
  r.search->icmp_seen = false;
  j = judge_pmtu(r, p);
  REQUIRE(codes(j).front() == "pmtu.black_hole");
  CHECK(j.findings[0].message.find("no ICMPv6 Packet Too Big comes back") != std::string::npos);
  CHECK(j.findings[0].message.find("Fragmentation Needed") == std::string::npos);
}

TEST_CASE("pmtu.below_minimum: critical, and it replaces below_recommended") {
  auto j = judge_pmtu(measured(1280), params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.below_minimum", "pmtu.sip_fragmentation"});
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::none);
  CHECK(j.findings[0].message == "The path MTU to 203.0.113.10 is 1280 bytes, below the minimum of 1300 bytes");
}

TEST_CASE("pmtu.sip_fragmentation: a SIP INVITE over UDP would not fit, unless switched off") {
  auto r = measured(1300);
  auto j = judge_pmtu(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"pmtu.below_recommended", "pmtu.sip_fragmentation"});
  CHECK(j.findings[1].severity == Severity::warning);
  CHECK(j.findings[1].message.find("(1300 bytes, 1328 as an IP packet)") != std::string::npos);
  r.thresholds.sip_message_bytes = 0;
  CHECK(codes(judge_pmtu(r, params())) == std::vector<std::string>{"pmtu.below_recommended"});
}

TEST_CASE("the judge uses the thresholds the result carries, and the details show them") {
  auto p = params();
  p.recommended_mtu = 9000;
  p.minimum_mtu = 1450;
  p.sip_message_bytes = 0;
  auto r = measured(1500);
  r.thresholds = PmtuThresholds::of(p, false);
  CHECK(codes(judge_pmtu(r, p)) == std::vector<std::string>{"pmtu.below_recommended"});
  r.search->path_mtu = 1400;
  CHECK(codes(judge_pmtu(r, p)) == std::vector<std::string>{"pmtu.below_minimum"});
  json d = r;
  CHECK(d["thresholds"] == json{{"warning_below", 9000},
                                {"critical_below", 1450},
                                {"sip_message_bytes", 0},
                                {"sip_fragmentation_below", 0}});
  CHECK(PmtuThresholds::of(params(), true).sip_fragmentation_below == 1348);  // IPv6 + UDP headers
}

TEST_CASE("the details: contract keys and the search") {
  json d = measured(1400, true, 1400);
  for (const char* key : {"host", "path_mtu", "icmp_seen", "black_hole"}) CHECK(d.contains(key));
  CHECK(d["path_mtu"] == 1400);
  CHECK(d["icmp_seen"] == true);
  CHECK(d["black_hole"] == true);
  CHECK(d["port"] == 20400);
  CHECK(d["method"] == "responder");
  CHECK(d["icmp_mtu"] == 1400);
  CHECK(d["route_mtu"].is_null());
  CHECK(d["rtt_ms"] == 0.12);
  CHECK(d["tested"][1] == json{{"size", 1500}, {"result", "too_big"}, {"mtu", 1400}});
  CHECK_FALSE(d.contains("undetermined"));
}

TEST_CASE("the view: a bar of the path MTU against the thresholds in the details") {
  auto v = pmtu_view(json(measured(1400, true)));
  REQUIRE(v.blocks.size() == 1);
  const auto& bar = std::get<view::Bar>(v.blocks[0]);
  CHECK(bar.value == 1400);
  CHECK(bar.unit == "bytes");
  CHECK(bar.max >= 1600);
  REQUIRE(bar.thresholds.size() == 2);
  CHECK(bar.thresholds[0].value == 1300);
  CHECK(bar.thresholds[0].tone == view::Tone::bad);
  CHECK(bar.thresholds[1].value == 1500);
  CHECK(bar.thresholds[1].tone == view::Tone::warn);
  CHECK(bar.tone == view::Tone::warn);
  CHECK(bar.note.find("black hole") != std::string::npos);
  CHECK(v.shown_keys == std::vector<std::string>{"path_mtu", "black_hole", "thresholds"});

  SUBCASE("the thresholds of the scan, not today's defaults") {
    json d = measured(1500);
    d["thresholds"]["warning_below"] = 9000;
    auto w = std::get<view::Bar>(pmtu_view(d).blocks[0]);
    CHECK(w.thresholds[1].value == 9000);
    CHECK(w.tone == view::Tone::warn);
    CHECK(w.max >= 9100);
  }
  SUBCASE("good and bad") {
    CHECK(std::get<view::Bar>(pmtu_view(json(measured(1500))).blocks[0]).tone == view::Tone::good);
    CHECK(std::get<view::Bar>(pmtu_view(json(measured(1280))).blocks[0]).tone == view::Tone::bad);
  }
  SUBCASE("nothing measured") {
    auto w = std::get<view::Bar>(pmtu_view(json(measured(std::nullopt))).blocks[0]);
    CHECK_FALSE(w.value);
    CHECK(w.note.find("could not be established") != std::string::npos);
  }
  SUBCASE("an old report without thresholds, or odd values: no lines, no crash") {
    auto w = std::get<view::Bar>(pmtu_view(json{{"path_mtu", "big"}, {"black_hole", "yes"}}).blocks[0]);
    CHECK_FALSE(w.value);
    CHECK(w.thresholds.empty());
    CHECK(w.note.empty());
  }
}
