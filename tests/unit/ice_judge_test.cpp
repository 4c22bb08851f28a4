// ice: the candidate message codec (RFC 8839 / RFC 5245 examples, malformed
// input), the probe payload, every finding code of the judge from hand-built
// results, the details keys of the contract, the params and the view.
#include <doctest/doctest.h>

#include "checks/ice/ice_agent.hpp"
#include "checks/ice/ice_check.hpp"
#include "checks/ice/ice_codec.hpp"

using namespace callready;
using namespace callready::checks;
using nlohmann::json;

namespace {

ice::Candidate candidate(const char* type, const char* transport = "udp") {
  ice::Candidate c;
  c.foundation = "1";
  c.transport = transport;
  c.priority = 100;
  c.address = "192.0.2.10";
  c.port = 5000;
  c.type = type;
  if (std::string(transport) == "tcp") c.tcptype = "active";
  return c;
}

IceResult connected(const char* local, const char* remote, const char* transport = "udp") {
  IceResult r;
  r.responder = "198.51.100.7";
  r.stun = "203.0.113.3:3478";
  r.gather_cap_ms = 3000;
  r.candidates = {{"host", 1}, {"srflx", 1}};
  r.remote_candidates = {{"host", 1}};
  r.gathering_complete = true;
  r.gathering_ms = 120;
  r.exchanged = true;
  r.selected_local = candidate(local, transport);
  r.selected_remote = candidate(remote, transport);
  r.connected_ms = 40;
  r.rtt_ms = 12.5;
  r.probes_sent = r.probes_echoed = 5;
  return r;
}

std::vector<std::string> codes(const Judgement& j) {
  std::vector<std::string> out;
  for (const auto& f : j.findings) out.push_back(f.code);
  return out;
}

const Finding* find(const Judgement& j, const std::string& code) {
  for (const auto& f : j.findings)
    if (f.code == code) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("codec: the RFC 5245 and RFC 8839 example candidates parse and print back") {
  // RFC 5245 §B.? / RFC 8839 §5.1 examples.
  auto host = ice::parse_candidate("a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host");
  REQUIRE(host);
  CHECK(host->foundation == "1");
  CHECK(host->component == 1);
  CHECK(host->transport == "udp");
  CHECK(host->priority == 2130706431u);
  CHECK(host->address == "10.0.1.1");
  CHECK(host->port == 8998);
  CHECK(host->type == "host");
  CHECK(ice::format_candidate(*host) == "candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host");
  auto srflx = ice::parse_candidate("candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998");
  REQUIRE(srflx);
  CHECK(srflx->type == "srflx");
  CHECK(srflx->related_address == "10.0.1.1");
  CHECK(srflx->related_port == 8998);
  CHECK(ice::parse_candidate(ice::format_candidate(*srflx)) == srflx);
  // RFC 6544 §4.5: a TCP candidate with its tcptype; port 9 (discard) for active.
  auto tcp = ice::parse_candidate("candidate:3 1 TCP 2128609279 2001:db8::1 9 typ host tcptype active");
  REQUIRE(tcp);
  CHECK(tcp->transport == "tcp");
  CHECK(tcp->tcptype == "active");
  CHECK(tcp->address == "2001:db8::1");
  // Unknown extensions (generation, network-id) are ignored.
  CHECK(ice::parse_candidate("candidate:4 1 udp 100 192.0.2.4 4000 typ relay raddr 192.0.2.9 rport 1 generation 0"));
}

TEST_CASE("codec: malformed candidate lines are refused with a reason") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "at least 8 fields"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998", "at least 8 fields"},
      {"candidate:1 1 SCTP 2130706431 10.0.1.1 8998 typ host", "transport"},
      {"candidate:1 0 UDP 2130706431 10.0.1.1 8998 typ host", "component"},
      {"candidate:1 1 UDP 0 10.0.1.1 8998 typ host", "priority"},
      {"candidate:1 1 UDP 4294967296 10.0.1.1 8998 typ host", "priority"},
      {"candidate:1 1 UDP 2130706431 host.example 8998 typ host", "IP literal"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 65536 typ host", "port"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 0 typ host", "needs a port"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 type host", "typ"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ nat", "type must be"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ srflx raddr", "no value"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ srflx raddr nowhere rport 1", "raddr"},
      {"candidate:1 1 TCP 2130706431 10.0.1.1 9 typ host", "tcptype"},
      {"candidate:1 1 TCP 2130706431 10.0.1.1 9 typ host tcptype sideways", "tcptype"},
      {"candidate:f%o 1 UDP 2130706431 10.0.1.1 8998 typ host", "foundation"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host\n", "control"},
      {"candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host " + std::string(600, 'x'), "512"},
  };
  for (const auto& [line, reason] : bad) {
    std::string why;
    INFO(line);
    CHECK_FALSE(ice::parse_candidate(line, &why));
    CHECK(why.find(reason) != std::string::npos);
  }
}

TEST_CASE("codec: a description round-trips and malformed messages are refused") {
  ice::Description d{"abcd", "0123456789abcdefghijkl", {candidate("host"), candidate("relay", "tcp")}};
  auto j = ice::to_message(d);
  CHECK(j["candidates"].size() == 2);
  CHECK(ice::from_message(j) == d);

  auto refused = [](json message, const std::string& reason) {
    std::string why;
    INFO(message.dump());
    CHECK_FALSE(ice::from_message(message, &why));
    CHECK(why.find(reason) != std::string::npos);
  };
  refused(json::array(), "not a JSON object");
  refused(json{{"pwd", d.pwd}, {"candidates", json::array()}}, "ufrag");
  refused(json{{"ufrag", 7}, {"pwd", d.pwd}, {"candidates", json::array()}}, "ufrag");
  refused(json{{"ufrag", "abc"}, {"pwd", d.pwd}, {"candidates", json::array()}}, "4-256");
  refused(json{{"ufrag", "ab d"}, {"pwd", d.pwd}, {"candidates", json::array()}}, "ice-chars");
  refused(json{{"ufrag", d.ufrag}, {"pwd", "short"}, {"candidates", json::array()}}, "22-256");
  refused(json{{"ufrag", d.ufrag}, {"pwd", d.pwd}, {"candidates", "x"}}, "candidates");
  refused(json{{"ufrag", d.ufrag}, {"pwd", d.pwd}, {"candidates", {1}}}, "not a string");
  refused(json{{"ufrag", d.ufrag}, {"pwd", d.pwd}, {"candidates", {"candidate:1 1 UDP"}}}, "candidate 1");
  json many = json::array();
  for (int i = 0; i < 33; ++i) many.push_back(ice::format_candidate(candidate("host")));
  refused(json{{"ufrag", d.ufrag}, {"pwd", d.pwd}, {"candidates", many}}, "more than 32");
}

TEST_CASE("probe payload: sequence numbers round-trip, anything else is not ours") {
  CHECK(ice::probe_sequence(ice::probe_payload(0)) == 0u);
  CHECK(ice::probe_sequence(ice::probe_payload(4294967295u)) == 4294967295u);
  CHECK_FALSE(ice::probe_sequence("callready-ice "));
  CHECK_FALSE(ice::probe_sequence("callready-ice 1x"));
  CHECK_FALSE(ice::probe_sequence("hello 1"));
}

TEST_CASE("judge: a direct srflx-to-host pair passes with the contract's details") {
  auto r = connected("srflx", "host");
  auto j = judge_ice(r, IceParams{});
  CHECK(j.findings.empty());
  CHECK(j.summary.find("srflx to host over UDP") != std::string::npos);
  json d = r;
  CHECK(d["candidates"] == json{{"host", 1}, {"srflx", 1}, {"prflx", 0}, {"relay", 0}});
  CHECK(d["selected_pair"]["local_type"] == "srflx");
  CHECK(d["selected_pair"]["remote_type"] == "host");
  CHECK(d["selected_pair"]["transport"] == "udp");
  CHECK(d["relay_required"] == false);
  CHECK(d["gathering_ms"] == 120);
  CHECK(d["connected_ms"] == 40);
  CHECK(d["rtt_ms"] == 12.5);
}

TEST_CASE("judge: ice.relay_required when the pair uses a relay, not under relay_only") {
  auto r = connected("relay", "host");
  auto j = judge_ice(r, IceParams{});
  CHECK(codes(j) == std::vector<std::string>{"ice.relay_required"});
  CHECK(find(j, "ice.relay_required")->severity == Severity::warning);
  CHECK(json(r)["relay_required"] == true);
  r.relay_only = true;
  r.turn = "203.0.113.4:3478";
  r.candidates["relay"] = 1;
  CHECK(judge_ice(r, IceParams{}).findings.empty());
}

TEST_CASE("judge: ice.no_pair is critical and counts both sides' candidates") {
  auto r = connected("host", "host");
  r.selected_local.reset();
  r.selected_remote.reset();
  r.connected_ms.reset();
  r.rtt_ms.reset();
  r.checks_failed = true;
  auto j = judge_ice(r, IceParams{});
  CHECK(codes(j) == std::vector<std::string>{"ice.no_pair"});
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::connect);
  CHECK(j.findings[0].message.find("1 host, 1 srflx, 0 prflx, 0 relay") != std::string::npos);
  CHECK(json(r)["selected_pair"].is_null());
}

TEST_CASE("judge: ice.tcp_pair when media would run over TCP") {
  auto j = judge_ice(connected("host", "host", "tcp"), IceParams{});
  CHECK(codes(j) == std::vector<std::string>{"ice.tcp_pair"});
}

TEST_CASE("judge: TURN findings name the server, 401 is not a timeout") {
  auto r = connected("srflx", "host");
  r.turn = "203.0.113.4:3478";
  r.turn_username = "alice";
  r.turn_probe.outcome = ice::TurnOutcome::unauthorized;
  r.turn_probe.error_code = 401;
  r.turn_probe.reason = "Unauthorized";
  auto j = judge_ice(r, IceParams{});
  REQUIRE(find(j, "ice.turn_unauthorized"));
  CHECK(find(j, "ice.turn_unauthorized")->message.find("203.0.113.4:3478") != std::string::npos);
  CHECK(find(j, "ice.turn_unauthorized")->message.find("alice") != std::string::npos);
  CHECK(find(j, "ice.turn_unauthorized")->severity == Severity::warning);  // a direct pair exists

  r.turn_probe = {};
  r.turn_probe.outcome = ice::TurnOutcome::unreachable;
  r.gathering_complete = false;
  r.relay_only = true;  // the relay is the only path: critical
  j = judge_ice(r, IceParams{});
  REQUIRE(find(j, "ice.turn_unreachable"));
  CHECK(find(j, "ice.turn_unreachable")->severity == Severity::critical);
  CHECK(find(j, "ice.turn_unreachable")->message.find("203.0.113.4:3478") != std::string::npos);
  CHECK(find(j, "ice.gathering_capped"));
  CHECK(find(j, "ice.no_relay_candidate"));

  r.turn_probe = {};
  r.turn_probe.outcome = ice::TurnOutcome::refused;
  r.turn_probe.error_code = 486;
  r.turn_probe.reason = "Allocation Quota Reached";
  j = judge_ice(r, IceParams{});
  REQUIRE(find(j, "ice.turn_refused"));
  CHECK(find(j, "ice.turn_refused")->message.find("486") != std::string::npos);
  CHECK(json(r)["turn_check"]["allocate"] == "refused");
}

TEST_CASE("judge: names that did not resolve") {
  auto r = connected("host", "host");
  r.turn = "turn.example.net:3478";
  TargetAddresses none;
  none.host = "turn.example.net";
  none.failure = net::DnsFailure::nxdomain;
  r.turn_unresolved = none;
  r.stun_unresolved = none;
  auto j = judge_ice(r, IceParams{});
  CHECK(find(j, "ice.turn_no_address"));
  CHECK(find(j, "ice.stun_no_address"));

  IceResult lost;
  lost.responder = "responder.example.net";
  none.host = "responder.example.net";
  lost.unresolved = none;
  CHECK(codes(judge_ice(lost, IceParams{})) == std::vector<std::string>{"ice.no_address"});
}

TEST_CASE("params: TURN needs credentials, relay_only needs TURN, bad servers are refused") {
  const CheckKind kind = ice_check_kind();
  CHECK(kind.validate(json{{"stun", "203.0.113.3:3478"}}).empty());
  CHECK_FALSE(kind.validate(json{{"turn", "203.0.113.4:3478"}}).empty());
  CHECK_FALSE(kind.validate(json{{"relay_only", true}}).empty());
  CHECK_FALSE(kind.validate(json{{"stun", ":"}}).empty());
  CHECK_FALSE(kind.validate(json{{"turn_transport", "sctp"}}).empty());
  CHECK(kind.validate(json{{"turn", "203.0.113.4:3478"},
                           {"turn_username", "u"},
                           {"turn_password", "p"},
                           {"relay_only", true},
                           {"ice_tcp", true}})
            .empty());
}

TEST_CASE("view and metrics come from the details alone") {
  json d = connected("relay", "srflx");
  auto v = ice_view(d);
  REQUIRE(v.blocks.size() == 2);
  auto samples = ice_metrics(d);
  REQUIRE(samples.size() == 4);  // whether a pair was nominated is the check's status series
  CHECK(samples[0].value == 1);  // relay required
  CHECK(samples[3].value == doctest::Approx(0.0125));
}
