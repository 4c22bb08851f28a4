// dscp: verdicts from hand-built counts, every finding code, the details
// keys of the contract, the params (bad class names) and the matrix view.
#include <doctest/doctest.h>

#include <algorithm>

#include "checks/dscp/dscp_check.hpp"

using namespace callready;
using namespace callready::checks;

namespace {

DscpDirection arrived(std::map<int, int> received, int ecn_changed = 0) {
  DscpDirection d;
  d.received = std::move(received);
  d.ecn_changed = ecn_changed;
  return d;
}

DscpClassResult klass(const char* name, int dscp, DscpDirection up, DscpDirection down, const char* transport = "udp",
                      const char* family = "ipv4") {
  DscpClassResult c;
  c.name = name;
  c.dscp = dscp;
  c.transport = transport;
  c.family = family;
  c.address = family == std::string("ipv6") ? "2001:db8:2::10" : "203.0.113.10";
  c.port = 8500;
  c.source_port = 8512;
  c.upstream = std::move(up);
  c.downstream = std::move(down);
  c.probes_sent = 50;
  c.replies = std::max(c.upstream.total(), c.downstream.total());
  return c;
}

DscpParams params() {
  DscpParams p;
  p.host = "203.0.113.10";
  return p;
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

TEST_CASE("verdicts: preserved, bleached, remarked (also partly), unknown") {
  CHECK(dscp_verdict(arrived({{46, 50}}), 46) == DscpVerdict::preserved);
  CHECK(dscp_verdict(arrived({{0, 50}}), 46) == DscpVerdict::bleached);
  CHECK(dscp_verdict(arrived({{34, 50}}), 46) == DscpVerdict::remarked);
  CHECK(dscp_verdict(arrived({{46, 45}, {0, 5}}), 46) == DscpVerdict::remarked);
  CHECK(remarked_pct(arrived({{46, 45}, {0, 5}}), 46) == doctest::Approx(10.0));
  CHECK(remarked_pct(arrived({{46, 50}}), 46) == doctest::Approx(0.0));
  CHECK(remarked_pct(arrived({{26, 49}}), 46) == doctest::Approx(100.0));
  CHECK(dscp_verdict(arrived({}), 46) == DscpVerdict::unknown);
  // A class sent as 0 cannot be bleached; anything else is a re-marking.
  CHECK(dscp_verdict(arrived({{0, 10}}), 0) == DscpVerdict::preserved);
  CHECK(dscp_verdict(arrived({{8, 10}}), 0) == DscpVerdict::remarked);
  // Unreadable beats counts.
  auto unreadable = arrived({{46, 3}});
  unreadable.unreadable = "needs CAP_NET_RAW";
  CHECK(dscp_verdict(unreadable, 46) == DscpVerdict::unknown);
}

TEST_CASE("class names and values: known names, 0-63, nothing else") {
  CHECK(dscp_of_class("EF") == 46);
  CHECK(dscp_of_class("ef") == 46);
  CHECK(dscp_of_class("AF41") == 34);
  CHECK(dscp_of_class("CS3") == 24);
  CHECK(dscp_of_class("CS0") == 0);
  CHECK(dscp_of_class("46") == 46);
  CHECK(dscp_of_class("63") == 63);
  CHECK_FALSE(dscp_of_class("64"));
  CHECK_FALSE(dscp_of_class("AF44"));
  CHECK_FALSE(dscp_of_class("CS8"));
  CHECK_FALSE(dscp_of_class(""));
  CHECK_FALSE(dscp_of_class("-1"));
  CHECK_FALSE(dscp_of_class("EF2"));
  CHECK(dscp_class_name(46) == "EF");
  CHECK(dscp_class_name(34) == "AF41");
  CHECK(dscp_class_name(24) == "CS3");
  CHECK(dscp_class_name(0) == "CS0");
  CHECK(dscp_class_name(7) == "7");
}

TEST_CASE("params: defaults, shapes, and bad classes are bad_params") {
  nlohmann::json ok = {{"host", "203.0.113.10"}};
  std::optional<DscpParams> p;
  REQUIRE_FALSE(parse_params(ok, p));
  REQUIRE(p->classes.size() == 4);
  CHECK(p->classes[0].name == "EF");
  CHECK(p->classes[0].shape.transport == "udp");
  CHECK(p->classes[2].name == "CS3");
  CHECK(p->classes[2].shape.transport == "tcp");
  CHECK(p->family == "both");
  CHECK(p->packets == 50);

  nlohmann::json shaped = {{"host", "h"},
                           {"classes", {"EF", "CS3"}},
                           {"shapes",
                            {{"EF", {{"transport", "udp"}, {"port", 8500}, {"source_ports", "8500-8599"}}},
                             {"CS3", {{"transport", "tcp"}, {"port", 8934}, {"source_ports", "5060-5080"}}}}}};
  REQUIRE_FALSE(parse_params(shaped, p));
  CHECK(p->classes[0].shape.port == 8500);
  REQUIRE(p->classes[0].shape.source_ports);
  CHECK(p->classes[0].shape.source_ports->first == 8500);
  CHECK(p->classes[0].shape.source_ports->last == 8599);
  CHECK(p->classes[1].shape.transport == "tcp");
  CHECK(p->classes[1].shape.port == 8934);

  for (const auto& bad :
       {nlohmann::json{{"host", "h"}, {"classes", {"EF", "XX9"}}}, nlohmann::json{{"host", "h"}, {"classes", {"64"}}},
        nlohmann::json{{"host", "h"}, {"family", "ipv5"}}, nlohmann::json{{"host", "h"}, {"packets", 5000}},
        nlohmann::json{{"host", "h"}, {"classes", {"EF"}}, {"shapes", {{"AF41", {{"port", 1}}}}}},
        nlohmann::json{{"host", "h"}, {"shapes", {{"EF", {{"port", 1}, {"transport", "sctp"}}}}}},
        nlohmann::json{{"host", "h"}, {"shapes", {{"EF", {{"port", 1}, {"source_ports", "9-1"}}}}}}}) {
    CAPTURE(bad.dump());
    auto err = parse_params(bad, p);
    REQUIRE(err);
    CHECK(err->reason == ErrorReason::bad_params);
  }
}

TEST_CASE("every class preserved both ways: a pass without findings") {
  DscpResult r;
  r.host = "203.0.113.10";
  r.classes.push_back(klass("EF", 46, arrived({{46, 50}}), arrived({{46, 50}})));
  r.classes.push_back(klass("CS3", 24, arrived({{24, 10}}), arrived({{24, 50}}), "tcp", "ipv6"));
  auto j = judge_dscp(r, params());
  CHECK(j.findings.empty());
  CHECK(j.summary.find("EF udp ipv4: preserved both ways") != std::string::npos);
  CHECK(j.summary.find("CS3 tcp ipv6: preserved both ways") != std::string::npos);
}

TEST_CASE("a family the responder could not be asked over is named in the summary and the details") {
  DscpResult r;
  r.host = "responder.example.test";
  r.classes.push_back(klass("EF", 46, arrived({{46, 50}}), arrived({{46, 50}})));
  r.not_asked.push_back("ipv6: control: connect [2001:db8:2::10]:7447: Connection refused");
  auto j = judge_dscp(r, params());
  CHECK(j.findings.empty());
  CHECK(
      j.summary ==
      "EF udp ipv4: preserved both ways; not tested: ipv6: control: connect [2001:db8:2::10]:7447: Connection refused");
  CHECK(nlohmann::json(r)["skipped"] == nlohmann::json{r.not_asked[0]});
  // A host without an address of that family: in the details only (an IPv4 literal has none).
  r.not_asked.clear();
  r.skipped.push_back("ipv6: 203.0.113.10 has no IPv6 address");
  CHECK(judge_dscp(r, params()).summary == "EF udp ipv4: preserved both ways");
  CHECK(nlohmann::json(r)["skipped"] == nlohmann::json{r.skipped[0]});
}

TEST_CASE("dscp.bleached names the class and the direction") {
  DscpResult r;
  r.classes.push_back(klass("EF", 46, arrived({{0, 50}}), arrived({{46, 50}})));
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.bleached"});
  const auto* f = find(j, "dscp.bleached");
  REQUIRE(f);
  CHECK(f->severity == Severity::warning);  // by default; a profile may raise it
  auto raised = params();
  raised.remark_severity = Severity::critical;
  CHECK(judge_dscp(r, raised).findings[0].severity == Severity::critical);
  CHECK(f->message.find("EF (DSCP 46) over UDP IPv4") != std::string::npos);
  CHECK(f->message.find("upstream") != std::string::npos);
  CHECK_FALSE(f->remediation.empty());
  CHECK(j.summary.find("bleached up, preserved down") != std::string::npos);
}

TEST_CASE("dscp.remarked gives the values and the fraction, per direction") {
  DscpResult r;
  r.classes.push_back(klass("AF41", 34, arrived({{34, 50}}), arrived({{34, 45}, {0, 5}})));
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.remarked"});
  const auto* f = find(j, "dscp.remarked");
  REQUIRE(f);
  CHECK(f->message.find("10% of the packets") != std::string::npos);
  CHECK(f->message.find("downstream") != std::string::npos);
  CHECK(f->message.find("0 (5 of 50 packets)") != std::string::npos);

  DscpResult whole;
  whole.classes.push_back(klass("EF", 46, arrived({{26, 50}}), arrived({{46, 50}}), "udp", "ipv6"));
  auto w = judge_dscp(whole, params());
  REQUIRE(find(w, "dscp.remarked"));
  CHECK(find(w, "dscp.remarked")->message.find("every packet") != std::string::npos);
  CHECK(find(w, "dscp.remarked")->message.find("IPv6") != std::string::npos);
}

TEST_CASE("a class sent as 0 re-marked is information, not a failure") {
  DscpResult r;
  r.classes.push_back(klass("CS0", 0, arrived({{8, 10}}), arrived({{0, 50}}), "tcp"));
  auto j = judge_dscp(r, params());
  REQUIRE(find(j, "dscp.remarked"));
  CHECK(find(j, "dscp.remarked")->severity == Severity::info);
}

TEST_CASE("ECN changes are reported apart and never make a class re-marked") {
  DscpResult r;
  r.classes.push_back(klass("EF", 46, arrived({{46, 50}}, 50), arrived({{46, 50}})));
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.ecn_changed"});
  CHECK(find(j, "dscp.ecn_changed")->severity == Severity::info);
  CHECK(j.summary.find("preserved both ways") != std::string::npos);
}

TEST_CASE("dscp.no_reply is inconclusive and names the failed step") {
  DscpResult r;
  auto c = klass("CS3", 24, arrived({}), arrived({}), "tcp");
  c.replies = 0;
  c.failure = "connect to 203.0.113.10:8934 failed: timeout";
  c.failure_operation = Operation::connect;
  r.classes.push_back(c);
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.no_reply"});
  const auto* f = find(j, "dscp.no_reply");
  CHECK(f->inconclusive);
  CHECK(f->operation == Operation::connect);
  CHECK(f->severity == Severity::warning);
  CHECK(f->message.find("timeout") != std::string::npos);
}

TEST_CASE("dscp.unreadable: a direction that could not be read is unknown, not bleached") {
  DscpResult r;
  auto down = arrived({});
  down.unreadable = "reading the TOS of arriving IPv4 TCP segments needs CAP_NET_RAW (run as root)";
  r.classes.push_back(klass("CS3", 24, arrived({{24, 10}}), down, "tcp"));
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.unreadable"});
  CHECK(find(j, "dscp.unreadable")->inconclusive);
  CHECK(find(j, "dscp.unreadable")->severity == Severity::info);
  CHECK(j.summary.find("preserved up, unknown down") != std::string::npos);
}

TEST_CASE("dscp.no_address: an unresolved responder") {
  DscpResult r;
  TargetAddresses t;
  t.host = "responder.example.test";
  t.failure = net::DnsFailure::nxdomain;
  r.unresolved = t;
  auto j = judge_dscp(r, params());
  CHECK(codes(j) == std::vector<std::string>{"dscp.no_address"});
}

TEST_CASE("details keep the contract's keys") {
  DscpResult r;
  r.host = "203.0.113.10";
  r.classes.push_back(klass("EF", 46, arrived({{46, 45}, {0, 5}}, 2), arrived({{0, 50}})));
  nlohmann::json j = r;
  REQUIRE(j["classes"].size() == 1);
  const auto& c = j["classes"][0];
  CHECK(c["name"] == "EF");
  CHECK(c["dscp"] == 46);
  CHECK(c["transport"] == "udp");
  CHECK(c["family"] == "ipv4");
  CHECK(c["upstream"]["verdict"] == "remarked");
  CHECK(c["upstream"]["received"] == nlohmann::json{{"0", 5}, {"46", 45}});
  CHECK(c["upstream"]["ecn_changed"] == true);
  CHECK(c["upstream"]["remarked_pct"] == 10.0);
  CHECK(c["downstream"]["verdict"] == "bleached");
  CHECK(c["downstream"]["ecn_changed"] == false);
}

TEST_CASE("the view: a class x direction matrix and what arrived") {
  DscpResult r;
  r.classes.push_back(klass("EF", 46, arrived({{46, 50}}), arrived({{0, 50}})));
  auto down = arrived({});
  down.unreadable = "needs CAP_NET_RAW";
  r.classes.push_back(klass("CS3", 24, arrived({{24, 10}}), down, "tcp"));
  nlohmann::json details = r;
  auto v = dscp_view(details);
  REQUIRE(v.blocks.size() == 2);
  const auto& m = std::get<view::Matrix>(v.blocks[0]);
  REQUIRE(m.columns.size() == 2);
  CHECK(m.columns[0].label == "upstream");
  REQUIRE(m.rows.size() == 2);
  CHECK(m.rows[0].label == "EF udp ipv4");
  CHECK(m.rows[0].cells == std::vector<view::Tone>{view::Tone::good, view::Tone::bad});
  CHECK(m.rows[1].cells == std::vector<view::Tone>{view::Tone::good, view::Tone::muted});
  const auto& t = std::get<view::Table>(v.blocks[1]);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][5].text.find("bleached: DSCP 0 ×50") != std::string::npos);
  CHECK(t.rows[1][5].text.find("needs CAP_NET_RAW") != std::string::npos);
  // Old or odd details never crash it: without `classes` the generic table shows them.
  CHECK(dscp_view(nlohmann::json::object()).blocks.empty());
  CHECK(std::get<view::Matrix>(dscp_view(nlohmann::json{{"classes", {1, "x", nullptr}}}).blocks[0]).rows.empty());
}
