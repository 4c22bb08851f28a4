// The dns kind's judge, details and view, from hand-built results: every
// finding code, no sockets.
#include <doctest/doctest.h>

#include <algorithm>

#include "checks/dns/dns_check.hpp"

using namespace callready;
using namespace callready::checks::dns;
using net::DnsFailure;

namespace {

DnsParams params(const std::string& name, const std::string& type) {
  DnsParams p;
  p.name = name;
  p.type = type;
  return p;
}

DnsResult answered(const std::string& name, const std::string& type) {
  DnsResult r;
  r.name = r.query_name = name;
  r.type = type;
  r.server = "127.0.0.1:53";
  r.failure = DnsFailure::none;
  r.rcode = 0;
  r.rtt_ms = 1.5;
  r.ttl = 300;
  r.timeout_ms = 4000;
  return r;
}

DnsResult failed(DnsFailure failure, int rcode = -1) {
  auto r = answered("sbc.example.test", "A");
  r.failure = failure;
  r.rcode = rcode;
  if (failure == DnsFailure::timeout) r.rtt_ms.reset();
  return r;
}

const Finding* find(const Judgement& j, const std::string& code) {
  auto it = std::find_if(j.findings.begin(), j.findings.end(), [&](const Finding& f) { return f.code == code; });
  return it == j.findings.end() ? nullptr : &*it;
}

const view::Table& table(const view::View& v) {
  REQUIRE(v.blocks.size() == 1);
  REQUIRE(std::holds_alternative<view::Table>(v.blocks[0]));
  return std::get<view::Table>(v.blocks[0]);
}

}  // namespace

TEST_CASE("dns judge: an A answer passes, the summary lists it") {
  auto r = answered("sbc.example.test", "A");
  r.addresses = {"203.0.113.10", "203.0.113.11"};
  auto j = judge_dns(r, params("sbc.example.test", "A"));
  CHECK(j.findings.empty());
  CHECK(j.summary == "sbc.example.test A -> 203.0.113.10, 203.0.113.11 (1.5 ms)");
}

TEST_CASE("dns judge: SRV and PTR answers pass") {
  auto r = answered("_sips._tcp.example.test", "SRV");
  r.srv = {{"sbc1.example.test", 5061, 10, 60}, {"sbc2.example.test", 5061, 20, 10}};
  auto j = judge_dns(r, params("_sips._tcp.example.test", "SRV"));
  CHECK(j.findings.empty());
  CHECK(j.summary.find("sbc1.example.test:5061 (p10 w60), sbc2.example.test:5061 (p20 w10)") != std::string::npos);

  auto ptr = answered("203.0.113.10", "PTR");
  ptr.query_name = "10.113.0.203.in-addr.arpa";
  ptr.names = {"sbc1.example.test"};
  j = judge_dns(ptr, params("203.0.113.10", "PTR"));
  CHECK(j.findings.empty());
  CHECK(j.summary.find("sbc1.example.test") != std::string::npos);
}

TEST_CASE("dns judge: each failed query is one critical finding of operation resolve") {
  struct Case {
    DnsFailure failure;
    const char* code;
    const char* words;
  };
  for (const auto& c :
       {Case{DnsFailure::nxdomain, "dns.nxdomain", "does not exist"},
        Case{DnsFailure::no_data, "dns.no_data", "has no A record"},
        Case{DnsFailure::servfail, "dns.servfail", "SERVFAIL"}, Case{DnsFailure::refused, "dns.refused", "REFUSED"},
        Case{DnsFailure::timeout, "dns.timeout", "within 4000 ms"},
        Case{DnsFailure::unreachable, "dns.unreachable", "could not be reached"},
        Case{DnsFailure::bad_name, "dns.bad_name", "not a valid DNS name"},
        Case{DnsFailure::bad_response, "dns.bad_response", "failed"}, Case{DnsFailure::other, "dns.other", "failed"}}) {
    CAPTURE(c.code);
    auto j = judge_dns(failed(c.failure), params("sbc.example.test", "A"));
    REQUIRE(j.findings.size() == 1);
    const auto& f = j.findings[0];
    CHECK(f.code == c.code);
    CHECK(f.severity == Severity::critical);
    CHECK(f.operation == Operation::resolve);
    CHECK(f.message.find(c.words) != std::string::npos);
    CHECK_FALSE(f.remediation.empty());
    CHECK(j.summary == f.message);
  }
}

TEST_CASE("dns.truncated_tcp_failed: a truncated UDP answer whose TCP retry failed is said so, not no answer") {
  auto r = failed(DnsFailure::timeout);
  r.truncated = true;
  r.transport = "tcp";
  r.tcp_failed = Operation::connect;
  r.tcp_error = "connect: Connection refused";
  auto j = judge_dns(r, params("sbc.example.test", "A"));
  REQUIRE(j.findings.size() == 1);
  const auto& f = j.findings.front();
  CHECK(f.code == "dns.truncated_tcp_failed");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::connect);
  CHECK(f.inconclusive);  // the answer is unknown: this fix (allow TCP 53), not the rule's
  CHECK(f.message ==
        "The DNS server 127.0.0.1:53 answered sbc.example.test A over UDP, but the answer was truncated (TC set: too "
        "large for UDP) and the retry over TCP failed (connect: Connection refused)");
  CHECK(f.message.find("No answer") == std::string::npos);
  CHECK(f.remediation.find("TCP 53") != std::string::npos);
  CHECK(j.summary == f.message);
  nlohmann::json d = r;
  CHECK(d["transport"] == "tcp");
  CHECK(d["truncated"] == true);
  CHECK(d["tcp_error"] == "connect: Connection refused");
}

TEST_CASE("dns judge: no records when none are required is no finding") {
  auto p = params("sbc.example.test", "AAAA");
  p.min_answers = 0;
  auto r = failed(DnsFailure::no_data, 0);
  r.type = "AAAA";
  auto j = judge_dns(r, p);
  CHECK(j.findings.empty());
  CHECK(j.summary == "sbc.example.test AAAA: no records (none required)");
}

TEST_CASE("dns judge: an answer that did not parse is bad_response, operation parse") {
  auto r = answered("sbc.example.test", "A");
  r.parse_error = "Misformatted DNS reply";
  auto j = judge_dns(r, params("sbc.example.test", "A"));
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "dns.bad_response");
  CHECK(j.findings[0].operation == Operation::parse);
  CHECK(j.findings[0].severity == Severity::critical);
}

TEST_CASE("dns judge: an SRV target \".\" says the service is unavailable") {
  auto r = answered("_sips._tcp.example.test", "SRV");
  r.srv = {{".", 0, 0, 0}};
  auto j = judge_dns(r, params("_sips._tcp.example.test", "SRV"));
  const auto* f = find(j, "dns.srv_service_unavailable");
  REQUIRE(f);
  CHECK(f->severity == Severity::critical);
  CHECK(f->operation == Operation::none);
  CHECK(j.summary == f->message);
}

TEST_CASE("dns judge: resolved SRV targets without addresses, or with too many") {
  auto r = answered("_sips._tcp.example.test", "SRV");
  r.srv = {{"sbc1.example.test", 5061, 10, 60},
           {"ghost.example.test", 5061, 10, 40},
           {"slow.example.test", 5061, 10, 30},
           {"multi.example.test", 5061, 20, 10}};
  r.targets = std::vector<SrvTarget>{{"sbc1.example.test", {"203.0.113.10"}, DnsFailure::none},
                                     {"ghost.example.test", {}, DnsFailure::no_data},
                                     {"slow.example.test", {}, DnsFailure::timeout},
                                     {"multi.example.test", {"203.0.113.20", "203.0.113.21"}, DnsFailure::none}};
  auto p = params("_sips._tcp.example.test", "SRV");
  p.resolve_targets = true;
  auto j = judge_dns(r, p);
  // Without a limit, two addresses are fine.
  CHECK_FALSE(find(j, "dns.srv_target_multiple_addresses"));
  REQUIRE(j.findings.size() == 2);
  CHECK(j.findings[0].code == "dns.srv_target_no_address");
  CHECK(j.findings[0].operation == Operation::resolve);
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].message == "SRV target ghost.example.test has no A or AAAA record");
  CHECK(j.findings[1].code == "dns.srv_target_no_address");
  CHECK(j.findings[1].message == "SRV target slow.example.test could not be resolved (timeout)");

  p.max_addresses_per_target = 1;
  j = judge_dns(r, p);
  const auto* f = find(j, "dns.srv_target_multiple_addresses");
  REQUIRE(f);
  CHECK(f->severity == Severity::critical);
  CHECK(f->operation == Operation::none);
  CHECK(f->message.find("203.0.113.20, 203.0.113.21") != std::string::npos);
}

TEST_CASE("dns judge: fewer answers than required") {
  auto r = answered("sbc.example.test", "A");
  r.addresses = {"203.0.113.10"};
  auto p = params("sbc.example.test", "A");
  p.min_answers = 2;
  auto j = judge_dns(r, p);
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "dns.too_few_answers");
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::none);
  CHECK(j.findings[0].message == "sbc.example.test A has 1 record(s); at least 2 expected");
}

TEST_CASE("dns judge: addresses outside the expected subnets are a warning") {
  auto p = params("sbc.example.test", "A");
  p.expect_in_subnets = {*net::Cidr::parse("198.51.100.0/24"), *net::Cidr::parse("2001:db8::/32")};
  auto r = answered("sbc.example.test", "A");
  r.addresses = {"198.51.100.7", "203.0.113.10"};
  r.outside_subnets = addresses_outside(r.addresses, p.expect_in_subnets);
  CHECK(r.outside_subnets == std::vector<std::string>{"203.0.113.10"});
  auto j = judge_dns(r, p);
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "dns.address_outside_subnets");
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.findings[0].operation == Operation::none);
  CHECK(j.findings[0].remediation.find("198.51.100.0/24, 2001:db8::/32") != std::string::npos);
  CHECK(j.summary == j.findings[0].message);
}

TEST_CASE("addresses_outside: none without subnets, each address once") {
  auto nets = std::vector<net::Cidr>{*net::Cidr::parse("203.0.113.0/24")};
  CHECK(addresses_outside({"192.0.2.1"}, {}).empty());
  CHECK(addresses_outside({"192.0.2.1", "203.0.113.5", "192.0.2.1", "not-an-address"}, nets) ==
        std::vector<std::string>{"192.0.2.1"});
}

TEST_CASE("dns details: the contract keys, SRV answers in the order given") {
  auto r = answered("_sips._tcp.example.test", "SRV");
  r.srv = {{"sbc1.example.test", 5061, 10, 60}, {"sbc2.example.test", 5062, 20, 10}};
  r.targets = std::vector<SrvTarget>{{"sbc1.example.test", {"203.0.113.10"}, DnsFailure::none},
                                     {"sbc2.example.test", {}, DnsFailure::nxdomain}};
  nlohmann::json d = r;
  CHECK(d["name"] == "_sips._tcp.example.test");
  CHECK(d["type"] == "SRV");
  CHECK(d["rcode"] == "NOERROR");
  CHECK(d["rtt_ms"] == 1.5);
  CHECK(d["ttl"] == 300);
  CHECK_FALSE(d.contains("query_name"));
  CHECK_FALSE(d.contains("outside_subnets"));
  REQUIRE(d["answers"].size() == 2);
  CHECK(d["answers"][0] ==
        nlohmann::json({{"target", "sbc1.example.test"}, {"port", 5061}, {"priority", 10}, {"weight", 60}}));
  CHECK(d["answers"][1]["target"] == "sbc2.example.test");
  CHECK(d["targets"][0]["addresses"] == nlohmann::json::array({"203.0.113.10"}));
  CHECK(d["targets"][1]["failure"] == "nxdomain");

  CHECK(d["transport"] == "udp");
  CHECK(d["truncated"] == false);
  CHECK_FALSE(d.contains("tcp_error"));

  nlohmann::json timeout = failed(DnsFailure::timeout);
  CHECK(timeout["rtt_ms"].is_null());
  CHECK(timeout["rcode"] == "");
  CHECK(timeout["answers"] == nlohmann::json::array());

  auto ptr = answered("203.0.113.10", "PTR");
  ptr.query_name = "10.113.0.203.in-addr.arpa";
  ptr.names = {"sbc1.example.test"};
  nlohmann::json p = ptr;
  CHECK(p["query_name"] == "10.113.0.203.in-addr.arpa");
  CHECK(p["answers"] == nlohmann::json::array({"sbc1.example.test"}));
}

TEST_CASE("dns view: SRV answers as a table, with the targets' addresses") {
  auto r = answered("_sips._tcp.example.test", "SRV");
  r.srv = {{"sbc1.example.test", 5061, 10, 60}, {"sbc2.example.test", 5062, 20, 10}};
  auto v = dns_view(nlohmann::json(r));
  const auto& t = table(v);
  CHECK(t.caption == "Answers");
  CHECK(t.headers == std::vector<std::string>{"Priority", "Weight", "Port", "Target"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][0].text == "10");
  CHECK(t.rows[0][1].text == "60");
  CHECK(t.rows[0][2].text == "5061");
  CHECK(t.rows[0][3].text == "sbc1.example.test");
  CHECK(t.rows[0][3].mono);
  CHECK(t.rows[1][3].text == "sbc2.example.test");
  CHECK(std::count(v.shown_keys.begin(), v.shown_keys.end(), "answers") == 1);

  r.targets = std::vector<SrvTarget>{{"sbc1.example.test", {"203.0.113.10", "2001:db8::10"}, DnsFailure::none},
                                     {"sbc2.example.test", {}, DnsFailure::no_data}};
  auto with_targets = dns_view(nlohmann::json(r));
  const auto& resolved = table(with_targets);
  CHECK(resolved.headers.back() == "Addresses");
  CHECK(resolved.rows[0][4].text == "203.0.113.10\n2001:db8::10");
  CHECK(resolved.rows[1][4].tone == view::Tone::bad);
}

TEST_CASE("dns view: addresses and names, outside addresses marked, nothing without answers") {
  auto r = answered("sbc.example.test", "A");
  r.addresses = {"198.51.100.7", "203.0.113.10"};
  r.outside_subnets = {"203.0.113.10"};
  auto v = dns_view(nlohmann::json(r));
  const auto& t = table(v);
  CHECK(t.headers == std::vector<std::string>{"Address"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][0].text == "198.51.100.7");
  CHECK(t.rows[0][0].tone == view::Tone::plain);
  CHECK(t.rows[1][0].tone == view::Tone::warn);

  auto ptr = answered("203.0.113.10", "PTR");
  ptr.names = {"sbc1.example.test"};
  auto names = dns_view(nlohmann::json(ptr));
  CHECK(table(names).headers == std::vector<std::string>{"Name"});

  CHECK(dns_view(nlohmann::json(failed(DnsFailure::nxdomain))).blocks.empty());
  CHECK(dns_view(nlohmann::json::object()).blocks.empty());
}

TEST_CASE("dns params: CIDRs checked at load, target resolution only for SRV") {
  nlohmann::json good = {{"name", "x.example.test"}, {"type", "A"}, {"expect_in_subnets", {"203.0.113.0/24"}}};
  ParamReader r(good);
  auto p = DnsParams::parse(r);
  r.finish();
  CHECK(r.ok());
  CHECK(p.expect_in_subnets.size() == 1);
  CHECK(p.target() == "x.example.test A");

  nlohmann::json bad = {{"name", "x.example.test"}, {"type", "A"}, {"expect_in_subnets", {"203.0.113/24"}}};
  ParamReader rb(bad);
  (void)DnsParams::parse(rb);
  REQUIRE_FALSE(rb.ok());
  CHECK(rb.errors().front().path.find("expect_in_subnets[0]") != std::string::npos);

  nlohmann::json not_srv = {{"name", "x.example.test"}, {"type", "A"}, {"resolve_targets", true}};
  ParamReader rs(not_srv);
  (void)DnsParams::parse(rs);
  CHECK_FALSE(rs.ok());
}

TEST_CASE("dns.multiple_addresses: an A name that must map to one address") {
  auto p = params("xsp.example.test", "A");
  p.max_addresses = 1;
  auto r = answered("xsp.example.test", "A");
  r.addresses = {"203.0.113.10"};
  CHECK(judge_dns(r, p).findings.empty());
  r.addresses = {"203.0.113.10", "203.0.113.11"};
  auto j = judge_dns(r, p);
  const auto* f = find(j, "dns.multiple_addresses");
  REQUIRE(f);
  CHECK(f->severity == Severity::critical);
  CHECK(f->message.find("2 addresses (203.0.113.10, 203.0.113.11); at most 1") != std::string::npos);
}

TEST_CASE("dns params: transport and max_addresses") {
  nlohmann::json ok = {{"name", "xsp.example.test"}, {"type", "A"}, {"transport", "tcp"}, {"max_addresses", 1}};
  ParamReader r(ok);
  auto p = DnsParams::parse(r);
  r.finish();
  CHECK(r.ok());
  CHECK(p.transport == "tcp");
  CHECK(p.max_addresses == 1);
  for (nlohmann::json bad : {nlohmann::json{{"name", "x.test"}, {"type", "A"}, {"transport", "quic"}},
                             nlohmann::json{{"name", "_x._tcp.test"}, {"type", "SRV"}, {"max_addresses", 1}}}) {
    ParamReader rb(bad);
    (void)DnsParams::parse(rb);
    rb.finish();
    CHECK_MESSAGE(!rb.ok(), bad.dump());
  }
}

TEST_CASE("dns.bad_response: a garbled reply is not a timeout") {
  auto r = failed(DnsFailure::bad_response);
  r.error = "2 datagram(s) came back that are not a DNS reply to the question";
  auto j = judge_dns(r, params("sbc.example.test", "A"));
  const auto* f = find(j, "dns.bad_response");
  REQUIRE(f);
  CHECK(f->message.find("garbled reply (2 datagram(s)") != std::string::npos);
  CHECK(!f->inconclusive);
}
