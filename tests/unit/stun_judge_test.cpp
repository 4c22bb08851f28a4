// The `stun` judge, details and view from hand-built results: no sockets.
#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>

#include "checks/stun/stun_check.hpp"
#include "checks/stun/stun_result.hpp"

using namespace callready;
using namespace callready::checks::stun;
using nlohmann::json;

namespace {

Endpoint ep(const char* ip, unsigned short port) { return Endpoint(boost::asio::ip::make_address(ip), port); }

StunParams params(std::string transport = "udp", std::uint16_t port = 5004) {
  StunParams p;
  p.host = "stun.example.net";
  p.port = port;
  p.transport = std::move(transport);
  return p;
}

StunResult asked(const StunParams& p) {
  StunResult r;
  r.server = p.host;
  r.port = p.port;
  r.transport = p.transport;
  r.address = boost::asio::ip::make_address("203.0.113.10");
  return r;
}

// Answered with XOR-MAPPED-ADDRESS == the local address: no NAT, no ALG.
StunResult answered(const StunParams& p) {
  auto r = asked(p);
  r.requests_sent = 1;
  r.answered = true;
  r.rtt_ms = 12.5;
  r.local = ep("198.18.0.2", 40000);
  r.xor_mapped = ep("198.18.0.2", 40000);
  r.plain_mapped = ep("198.18.0.2", 40000);
  r.software = "callready";
  r.discovery = p.transport == "tcp" ? NatDiscovery::tcp : NatDiscovery::no_other_address;
  return r;
}

Finding only(const Judgement& j) {
  REQUIRE(j.findings.size() == 1);
  return j.findings.front();
}

const Finding* find(const Judgement& j, const std::string& code) {
  for (const auto& f : j.findings)
    if (f.code == code) return &f;
  return nullptr;
}

void no_webex(const Judgement& j) {
  for (const auto& f : j.findings) {
    CHECK(f.message.find("Webex") == std::string::npos);
    CHECK(f.remediation.find("Webex") == std::string::npos);
    CHECK(f.requirement.empty());  // the rule's, attached by scoring
  }
}

}  // namespace

TEST_CASE("pass: answered, no NAT, no ALG, plain RFC 5389 server: one info finding, no failure") {
  auto p = params();
  auto r = answered(p);
  r.discovery = NatDiscovery::disabled;
  auto j = judge(r, p);
  CHECK(j.findings.empty());
  CHECK(j.summary ==
        "STUN answered from stun.example.net:5004/udp in 12.5 ms; mapped address 198.18.0.2:40000 (no NAT)");
}

TEST_CASE("stun.no_address: the resolve failure as data, operation resolve") {
  auto p = params();
  StunResult r;
  r.server = p.host;
  checks::TargetAddresses unresolved;
  unresolved.host = p.host;
  unresolved.failure = net::DnsFailure::nxdomain;
  r.unresolved = unresolved;
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.no_address");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::resolve);
  CHECK(f.message.rfind(
            "Cannot reach the STUN server stun.example.net:5004/udp: stun.example.net could not be resolved", 0) == 0);
  CHECK(f.remediation.find("DNS") != std::string::npos);
  CHECK(j.summary == f.message);
  json d = r;
  CHECK(d["reachable"] == false);
  CHECK_FALSE(d.contains("address"));
}

TEST_CASE("stun.no_route: no route over UDP, operation connect") {
  auto p = params();
  auto r = asked(p);
  r.failed = Operation::connect;
  r.failure = net::NetFailure::unreachable;
  r.error = "Network is unreachable";
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.no_route");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::connect);
  CHECK(j.summary.rfind("no route to stun.example.net:5004/udp", 0) == 0);
}

TEST_CASE("stun.no_response: silence over UDP, operation receive, names UDP and the port") {
  auto p = params();
  auto r = asked(p);
  r.requests_sent = 3;
  r.failed = Operation::receive;
  r.error = "no answer to 3 request(s) within 2700 ms";
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.no_response");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("UDP port 5004") != std::string::npos);
  CHECK(f.remediation.find("Allow outbound UDP 5004") != std::string::npos);
  CHECK(f.remediation.find("(203.0.113.10)") != std::string::npos);
  CHECK(j.summary == "no STUN answer from stun.example.net:5004/udp: no answer to 3 request(s) within 2700 ms");
  no_webex(j);
}

TEST_CASE("silence details: wait_ms and wait_basis as the tcp kind writes them, for the check and the filtering") {
  auto p = params();
  auto r = asked(p);
  r.requests_sent = 3;
  r.failed = Operation::receive;
  r.error = "no answer to 3 request(s) within 250 ms";
  r.silence = net::silence_wait_for(std::chrono::microseconds(12345), Millis(18000));
  json d = r;
  CHECK(d["wait_ms"] == 250);
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["path_rtt_ms"] == 12.35);
  CHECK_FALSE(d.contains("filtering_wait_ms"));

  r.silence = net::silence_wait_for(std::nullopt, Millis(18000));
  d = r;
  CHECK(d["wait_ms"] == 18000);
  CHECK(d["wait_basis"] == "timeout");
  CHECK_FALSE(d.contains("path_rtt_ms"));

  auto a = answered(p);
  a.discovery = NatDiscovery::ran;
  a.other_address = ep("203.0.113.11", 5005);
  a.behaviour.filtering.behaviour = Behaviour::address_and_port_dependent;
  a.behaviour.filtering.evidence = "no answer";
  a.behaviour.filtering.silence = net::silence_wait_for(Millis(100), Millis(3500));
  d = a;
  CHECK_FALSE(d.contains("wait_ms"));  // the check's own exchange was answered
  CHECK(d["filtering_wait_ms"] == 400);
  CHECK(d["filtering_wait_basis"] == "rtt");
  CHECK(d["filtering_path_rtt_ms"] == 100.0);
}

namespace {
checks::IcmpError port_unreachable_from(const char* offender) {
  checks::IcmpError e;
  e.destination = ep("203.0.113.10", 5004);
  e.error = ECONNREFUSED;
  e.origin = 2;  // SO_EE_ORIGIN_ICMP
  e.type = 3;
  e.code = 3;
  e.offender = boost::asio::ip::make_address(offender);
  return e;
}

StunResult refused_by(const StunParams& p, const char* offender) {
  auto r = asked(p);
  r.requests_sent = 1;
  r.failed = Operation::receive;
  r.failure = net::NetFailure::refused;
  r.icmp = port_unreachable_from(offender);
  r.error = r.icmp->describe();
  return r;
}
}  // namespace

TEST_CASE("stun.port_closed: the server itself answered port unreachable, a closed port and not a firewall drop") {
  auto p = params();
  auto r = refused_by(p, "203.0.113.10");
  CHECK(r.closed_port());
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.port_closed");
  CHECK(f.severity == Severity::critical);
  CHECK(f.inconclusive);  // the rule's "open the firewall" does not replace this fix
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.rfind("Closed port: stun.example.net (203.0.113.10) answered", 0) == 0);
  CHECK(f.message.find("nothing listens on that port") != std::string::npos);
  CHECK(f.remediation.find("Allow outbound") == std::string::npos);  // not "open the firewall"
  CHECK(f.remediation.find("listens on UDP 5004") != std::string::npos);
  CHECK(j.summary ==
        "closed port: stun.example.net (203.0.113.10) answered that nothing listens on UDP 5004 (ICMP port "
        "unreachable from 203.0.113.10)");
  json d = r;
  CHECK(d["closed_port"] == true);
  CHECK(d["icmp"] == "ICMP port unreachable from 203.0.113.10");
  CHECK(d["reachable"] == false);
  no_webex(j);
}

TEST_CASE("stun.rejected: port unreachable from a router on the path is a firewall's REJECT") {
  auto p = params();
  auto r = refused_by(p, "198.18.0.1");
  CHECK_FALSE(r.closed_port());
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.rejected");
  CHECK(f.severity == Severity::critical);
  CHECK_FALSE(f.inconclusive);  // a firewall breaks the rule: its remediation applies
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("(ICMP port unreachable from 198.18.0.1)") != std::string::npos);
  CHECK(f.remediation.find("Allow outbound UDP 5004") != std::string::npos);
  CHECK(j.summary ==
        "UDP 5004 to stun.example.net (203.0.113.10) rejected on the path (ICMP port unreachable from "
        "198.18.0.1)");
  json d = r;
  CHECK(d["closed_port"] == false);
}

TEST_CASE("stun.no_response: a send that failed names operation send") {
  auto p = params();
  auto r = asked(p);
  r.failed = Operation::send;
  r.failure = net::NetFailure::unreachable;
  r.error = "send: No route to host";
  CHECK(only(judge(r, p)).operation == Operation::send);
  CHECK(only(judge(r, p)).code == "stun.no_response");
}

TEST_CASE("stun.no_response over TCP: the stream broke after connecting") {
  auto p = params("tcp", 3478);
  auto r = asked(p);
  r.failed = Operation::receive;
  r.failure = net::NetFailure::closed;
  r.error = "the server closed the connection";
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.no_response");
  CHECK(f.remediation.find("TCP 3478") != std::string::npos);
  CHECK(f.remediation.find("stateful return traffic") == std::string::npos);
}

TEST_CASE("stun.tcp_connect_failed: connect refused, operation connect, names TCP and the port") {
  auto p = params("tcp", 3478);
  auto r = asked(p);
  r.failed = Operation::connect;
  r.failure = net::NetFailure::refused;
  r.error = "refused";
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.tcp_connect_failed");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::connect);
  CHECK(f.message == "Cannot open TCP 3478 to stun.example.net (203.0.113.10): refused");
  CHECK(f.remediation.find("Allow outbound TCP 3478") != std::string::npos);
}

TEST_CASE("stun.bad_response: only junk arrived, operation parse, with the codec's reason") {
  auto p = params();
  auto r = asked(p);
  r.failed = Operation::parse;
  r.junk = "28 bytes from 203.0.113.10:5004: FINGERPRINT mismatch";
  r.error = "no answer to 7 request(s) within 39500 ms";
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.bad_response");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::parse);
  CHECK(f.message.find("FINGERPRINT") != std::string::npos);
}

TEST_CASE("stun.error_response: reachable but refused, a warning naming the error") {
  auto p = params();
  auto r = asked(p);
  r.answered = true;
  r.rtt_ms = 3;
  r.error_response = ErrorCode{401, "Unauthorized"};
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.error_response");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::receive);
  CHECK(j.summary.find("401 Unauthorized") != std::string::npos);
}

TEST_CASE("stun.no_mapped_address: answered without (XOR-)MAPPED-ADDRESS, operation parse") {
  auto p = params();
  auto r = asked(p);
  r.answered = true;
  r.rtt_ms = 3;
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.no_mapped_address");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::parse);
}

TEST_CASE("stun.alg_rewrite: MAPPED-ADDRESS disagrees with the XORed copy") {
  auto p = params();
  auto r = answered(p);
  r.plain_mapped = ep("198.18.0.99", 5060);
  auto j = judge(r, p);
  const auto* f = find(j, "stun.alg_rewrite");
  REQUIRE(f);
  CHECK(f->severity == Severity::warning);
  CHECK(f->operation == Operation::none);  // an observation, not a failed step
  CHECK(f->message.find("198.18.0.99:5060") != std::string::npos);
  CHECK(r.alg_suspected() == true);
  CHECK(r.mapped() == r.xor_mapped);  // the XORed address is the truth
  no_webex(j);
}

TEST_CASE("stun.nat: translated, info") {
  auto p = params();
  auto r = answered(p);
  r.xor_mapped = r.plain_mapped = ep("203.0.113.1", 61000);
  r.discovery = NatDiscovery::disabled;
  auto j = judge(r, p);
  const auto& f = only(j);
  CHECK(f.code == "stun.nat");
  CHECK(f.severity == Severity::info);
  CHECK(f.message.find("198.18.0.2:40000 is seen as 203.0.113.1:61000") != std::string::npos);
  CHECK(j.summary.find("(behind NAT)") != std::string::npos);
}

TEST_CASE("stun.no_rfc5780: the server offers no OTHER-ADDRESS, info") {
  auto p = params();
  auto r = answered(p);
  r.discovery = NatDiscovery::no_other_address;
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.no_rfc5780");
  CHECK(f.severity == Severity::info);
}

TEST_CASE("stun.nat_mapping_dependent: address- or port-dependent mapping is a warning") {
  auto p = params();
  for (auto b : {Behaviour::address_dependent, Behaviour::address_and_port_dependent}) {
    CAPTURE(to_string(b));
    auto r = answered(p);
    r.discovery = NatDiscovery::ran;
    r.other_address = ep("203.0.113.11", 5005);
    r.behaviour.mapping.behaviour = b;
    r.behaviour.filtering.behaviour = Behaviour::address_and_port_dependent;
    const auto& f = only(judge(r, p));
    CHECK(f.code == "stun.nat_mapping_dependent");
    CHECK(f.severity == Severity::warning);
    CHECK(f.message.find(to_string(b)) != std::string::npos);
  }
  auto r = answered(p);  // endpoint-independent mapping: nothing to say
  r.discovery = NatDiscovery::ran;
  r.behaviour.mapping.behaviour = Behaviour::endpoint_independent;
  r.behaviour.filtering.behaviour = Behaviour::address_and_port_dependent;
  CHECK(judge(r, p).findings.empty());
}

TEST_CASE("details: the contract keys, written from the result") {
  auto p = params();
  auto r = answered(p);
  r.discovery = NatDiscovery::ran;
  r.other_address = ep("203.0.113.11", 5005);
  r.behaviour.mapping = {Behaviour::endpoint_independent, "", "a and b both saw c", {}};
  r.behaviour.filtering = {Behaviour::unknown, "the server did not honour CHANGE-REQUEST", "", {}};
  json d = r;
  for (const char* key :
       {"server", "port", "transport", "reachable", "rtt_ms", "local_address", "mapped_address", "nat"})
    CHECK_MESSAGE(d.contains(key), key);
  CHECK(d["server"] == "stun.example.net");
  CHECK(d["port"] == 5004);
  CHECK(d["transport"] == "udp");
  CHECK(d["reachable"] == true);
  CHECK(d["rtt_ms"] == 12.5);
  CHECK(d["local_address"] == "198.18.0.2:40000");
  CHECK(d["mapped_address"] == "198.18.0.2:40000");
  CHECK(d["nat"] == false);
  CHECK(d["alg_suspected"] == false);
  CHECK(d["software"] == "callready");
  CHECK(d["address"] == "203.0.113.10");
  CHECK(d["requests_sent"] == 1);
  CHECK(d["other_address"] == "203.0.113.11:5005");
  CHECK(d["mapping_behavior"] == "endpoint-independent");
  CHECK(d["mapping_evidence"] == "a and b both saw c");
  CHECK(d["filtering_behavior"] == "unknown: the server did not honour CHANGE-REQUEST");
  CHECK_FALSE(d.contains("filtering_evidence"));
  CHECK(r.public_address() == "198.18.0.2:40000");
}

TEST_CASE("details without an answer: nulls, and why the behaviours are unknown") {
  auto p = params("tcp", 3478);
  auto r = asked(p);
  r.failed = Operation::connect;
  json d = r;
  CHECK(d["reachable"] == false);
  CHECK(d["rtt_ms"].is_null());
  CHECK(d["local_address"].is_null());
  CHECK(d["mapped_address"].is_null());
  CHECK(d["nat"].is_null());
  CHECK(d["alg_suspected"].is_null());
  CHECK(d["mapping_behavior"] == "unknown: no STUN answer");
  CHECK_FALSE(r.public_address());
  auto over_tcp = answered(p);
  json t = over_tcp;
  CHECK(t["mapping_behavior"] == "unknown: not tested over TCP (RFC 5780 tests need UDP)");
  over_tcp.discovery = NatDiscovery::disabled;
  t = over_tcp;
  CHECK(t["filtering_behavior"] == "unknown: not tested (nat_discovery is false)");
  over_tcp.discovery = NatDiscovery::no_other_address;
  t = over_tcp;
  CHECK(t["filtering_behavior"] == "unknown: server lacks RFC 5780");
}

TEST_CASE("view: the NAT behaviour table, from the details alone") {
  json d = {{"mapping_behavior", "address-and-port-dependent"},
            {"filtering_behavior", "endpoint-independent"},
            {"mapping_evidence", "x saw y"}};
  auto v = stun_view(d);
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks.front());
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][1].text == "address-and-port-dependent");
  CHECK(t.rows[0][1].tone == view::Tone::warn);
  CHECK(t.rows[0][2].text == "x saw y");
  CHECK(t.rows[1][1].tone == view::Tone::good);
  CHECK(v.shown_keys.size() == 4);
  auto unknown = stun_view(json{{"mapping_behavior", "unknown: no STUN answer"}, {"filtering_behavior", "unknown: x"}});
  CHECK(std::get<view::Table>(unknown.blocks.front()).rows[0][1].tone == view::Tone::muted);
  CHECK(stun_view(json::object()).blocks.empty());
}

TEST_CASE("params: validated, the target formatted, responder optional and boolean") {
  auto kind = checks::stun_check_kind();
  CHECK_FALSE(kind.validate(json{{"port", 3478}}).empty());
  CHECK_FALSE(kind.validate(json{{"host", "x"}, {"transport", "sctp"}}).empty());
  CHECK_FALSE(kind.validate(json{{"host", "x"}, {"nat_discovery", "maybe"}}).empty());
  CHECK_FALSE(kind.validate(json{{"host", "x"}, {"responder", "yes"}}).empty());
  CHECK(kind.validate(json{{"host", "x"}, {"responder", true}}).empty());
  CHECK(kind.validate(json{{"host", "x"}, {"port", "5004"}}).empty());
  CHECK(kind.target(json{{"host", "x"}, {"port", 9000}}) == "x:9000/udp");
  CHECK(kind.target(json{{"host", "2001:db8::1"}, {"port", 3478}, {"transport", "tcp"}}) == "[2001:db8::1]:3478/tcp");
  CHECK(kind.view);
}

TEST_CASE("OTHER-ADDRESS is followed only within the server's own address family, to a unicast address") {
  CHECK(other_address_not_followed(ep("203.0.113.10", 3478), ep("203.0.113.11", 3479)).empty());
  CHECK(other_address_not_followed(ep("2001:db8::1", 3478), ep("2001:db8::2", 3479)).empty());
  CHECK(other_address_not_followed(ep("127.0.0.1", 3478), ep("127.0.0.2", 3479)).empty());
  auto v6 = other_address_not_followed(ep("203.0.113.10", 3478), ep("2001:db8::2", 3479));
  CHECK(v6 == "OTHER-ADDRESS [2001:db8::2]:3479 is not in the server's address family (IPv4); not followed");
  CHECK_FALSE(other_address_not_followed(ep("2001:db8::1", 3478), ep("198.51.100.7", 3479)).empty());
  CHECK_FALSE(other_address_not_followed(ep("203.0.113.10", 3478), ep("0.0.0.0", 3479)).empty());
  CHECK_FALSE(other_address_not_followed(ep("203.0.113.10", 3478), ep("224.0.0.1", 3479)).empty());
  CHECK_FALSE(other_address_not_followed(ep("203.0.113.10", 3478), ep("203.0.113.11", 0)).empty());
  // A server on the internet cannot send the scan's probes to this machine itself.
  CHECK_FALSE(other_address_not_followed(ep("203.0.113.10", 3478), ep("127.0.0.1", 22)).empty());
}

TEST_CASE("stun.other_address_not_followed: info, behaviours unknown, the reason in the details") {
  auto p = params();
  auto r = answered(p);
  r.other_address = ep("2001:db8::2", 3479);
  r.discovery = NatDiscovery::other_address_refused;
  r.other_address_refused = other_address_not_followed(ep("203.0.113.10", 5004), *r.other_address);
  const auto& f = only(judge(r, p));
  CHECK(f.code == "stun.other_address_not_followed");
  CHECK(f.severity == Severity::info);
  CHECK(f.message.find("not in the server's address family") != std::string::npos);
  json d = r;
  CHECK(d["other_address_not_followed"] == r.other_address_refused);
  CHECK(d["mapping_behavior"] == "unknown: the server's OTHER-ADDRESS was not followed");
  CHECK_FALSE(d.contains("other_address_followed"));
}
