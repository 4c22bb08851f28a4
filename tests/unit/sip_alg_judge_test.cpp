// The sip_alg judge, details and view, without sockets: results are built by
// hand, one case per finding code the judge can emit, plus the pass case.
#include <doctest/doctest.h>

#include <algorithm>

#include "checks/sip_alg/sip_alg_check.hpp"
#include "checks/sip_alg/sip_alg_result.hpp"

using namespace callready;
using namespace callready::checks::sip_alg;
using nlohmann::json;

namespace {

Params params(std::string transport = "udp") {
  Params p;
  p.host = "203.0.113.10";
  p.transport = std::move(transport);
  return p;
}

Result result_of(std::vector<Exchange> exchanges, std::string transport = "udp") {
  Result r;
  r.host = "203.0.113.10";
  r.address = "203.0.113.10";
  r.transport = std::move(transport);
  r.exchanges = std::move(exchanges);
  return r;
}

Diff unchanged() {
  Diff d;
  d.identical = true;
  d.sent =
      d.received = {{"Method", "INVITE"}, {"Via", "SIP/2.0/UDP 198.18.0.2:5060;rport"}, {"c=", "IN IP4 198.18.0.2"}};
  d.order = {"Method", "Via", "c="};
  return d;
}

// Answered with the mirror; the Via came back as the responder wrote it.
Exchange mirrored(std::string method, std::uint16_t source = 5060, std::string transport = "udp") {
  Exchange e;
  e.transport = std::move(transport);
  e.requested_port = source;
  e.local = "198.18.0.2:" + std::to_string(source ? source : 40000);
  e.method = std::move(method);
  e.outcome = Outcome::mirrored;
  e.status = e.method == "INVITE" ? 488 : 200;
  e.rtt_ms = 1.25;
  e.diff = unchanged();
  e.observed_address = "203.0.113.1";
  e.observed_port = 61000;
  e.response_received = "203.0.113.1";
  e.response_rport = "61000";
  return e;
}

Exchange ended(std::string method, Outcome outcome, std::optional<StepFailure> failure = std::nullopt,
               std::uint16_t source = 0, std::string transport = "udp") {
  Exchange e;
  e.transport = std::move(transport);
  e.requested_port = source;
  e.method = std::move(method);
  e.outcome = outcome;
  e.failure = std::move(failure);
  return e;
}

std::vector<std::string> codes(const Judgement& j) {
  std::vector<std::string> out;
  for (const auto& f : j.findings) out.push_back(f.code);
  return out;
}

}  // namespace

TEST_CASE("pass: every request mirrored unchanged, no finding") {
  auto r = result_of({mirrored("INVITE"), mirrored("REGISTER"), mirrored("INVITE", 0), mirrored("REGISTER", 0)});
  auto j = judge(r, params());
  CHECK(j.findings.empty());
  CHECK(j.summary == "no SIP ALG: 4 request(s) over udp arrived unchanged");
  CHECK_FALSE(analyse(r).detected);
}

TEST_CASE("answered without the mirror: nothing to compare, and the summary says so") {
  auto e = mirrored("OPTIONS");
  e.outcome = Outcome::no_mirror;
  e.diff.reset();
  auto j = judge(result_of({e}), params());
  CHECK(j.findings.empty());
  CHECK(j.summary == "no SIP ALG seen: 1 request(s) over udp answered, none with its copy to compare");
}

TEST_CASE("sip_alg.no_address: the responder's name did not resolve") {
  Result r;
  r.host = "responder.example.test";
  r.unresolved = checks::TargetAddresses{"responder.example.test", {}, net::DnsFailure::nxdomain, ""};
  auto j = judge(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.no_address"});
  CHECK(j.findings[0].operation == Operation::resolve);
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.findings[0].message.find("Cannot test for a SIP ALG: responder.example.test could not be resolved") == 0);
  CHECK(j.findings[0].remediation.find("DNS") != std::string::npos);
  CHECK(j.summary == j.findings[0].message);
  json d = r;
  CHECK(d["alg_detected"] == false);
  CHECK(d["rewritten"] == json::array());
  CHECK_FALSE(d.contains("attempts"));
}

TEST_CASE("sip_alg.detected: fields rewritten on the way, named once each, first change shown") {
  auto clean = mirrored("REGISTER", 0);
  auto rewritten = mirrored("INVITE", 5060);
  rewritten.diff->identical = false;
  rewritten.diff->received["Via"] = "SIP/2.0/UDP 203.0.113.1:5060;rport";
  rewritten.diff->received["c="] = "IN IP4 203.0.113.1";
  rewritten.diff->changes = {{"Via", rewritten.diff->sent["Via"], rewritten.diff->received["Via"]},
                             {"c=", rewritten.diff->sent["c="], rewritten.diff->received["c="]}};
  auto again = rewritten;
  again.requested_port = 0;
  again.diff->changes.pop_back();
  auto r = result_of({clean, rewritten, again});
  auto j = judge(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.detected"});
  const auto& f = j.findings[0];
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::none);
  CHECK(f.message.find("Via, c= arrived changed (first seen on INVITE over udp from port 5060)") != std::string::npos);
  CHECK(f.remediation.find("Disable SIP ALG") == 0);
  CHECK(j.summary == "SIP ALG detected: Via, c= rewritten");
  CHECK(analyse(r).shown == &r.exchanges[1]);
}

TEST_CASE("sip_alg.response_rewritten: the response's Via received= or rport= changed on the way back") {
  auto e = mirrored("INVITE");
  e.response_received = "198.18.0.2";  // the private address, put back by an ALG
  auto j = judge(result_of({e, mirrored("REGISTER")}), params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.response_rewritten"});
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::none);
  CHECK(j.findings[0].message.find("received=203.0.113.1") != std::string::npos);
  CHECK(j.findings[0].message.find("arrived with received=198.18.0.2") != std::string::npos);
  CHECK(j.summary == "SIP ALG detected on the path to 203.0.113.10:5060/udp");

  auto port = mirrored("INVITE");
  port.response_rport = "5060";
  auto jp = judge(result_of({port}), params());
  REQUIRE(codes(jp) == std::vector<std::string>{"sip_alg.response_rewritten"});
  CHECK(jp.findings[0].message.find("rport=61000") != std::string::npos);

  auto stripped = mirrored("INVITE");
  stripped.response_received.reset();
  auto js = judge(result_of({stripped}), params());
  REQUIRE(codes(js) == std::vector<std::string>{"sip_alg.response_rewritten"});
  CHECK(js.findings[0].message.find("no received= at all") != std::string::npos);
}

TEST_CASE("sip_alg.dropped: INVITEs vanish while REGISTERs are answered") {
  auto r = result_of({ended("INVITE", Outcome::no_response), mirrored("REGISTER", 0)});
  auto j = judge(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.dropped"});
  CHECK(j.findings[0].severity == Severity::critical);
  CHECK(j.findings[0].operation == Operation::receive);
  CHECK(j.findings[0].message.find("INVITE over udp from an ephemeral port went unanswered while REGISTER over udp "
                                   "from an ephemeral port got through") == 0);
  json d = r;
  CHECK(d["alg_detected"] == true);
  CHECK(d["dropped"] == json::array({"INVITE over udp from an ephemeral port"}));
}

TEST_CASE("sip_alg.source_port_busy: once per socket, the ephemeral port still judged") {
  StepFailure busy{Operation::bind, net::NetFailure::local, "bind UDP port 5060: Address already in use"};
  auto r = result_of({ended("INVITE", Outcome::source_port_busy, busy, 5060),
                      ended("REGISTER", Outcome::source_port_busy, busy, 5060), mirrored("INVITE", 0),
                      mirrored("REGISTER", 0)});
  auto j = judge(r, params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.source_port_busy"});
  CHECK(j.findings[0].severity == Severity::info);
  CHECK(j.findings[0].operation == Operation::bind);
  CHECK(j.findings[0].message.find("Source port 5060 is in use") == 0);
  CHECK(j.summary == "no SIP ALG: 2 request(s) over udp arrived unchanged");
}

TEST_CASE("sip_alg.refused: every request refused, ALG presence unknown") {
  StepFailure icmp{Operation::receive, net::NetFailure::refused, "receive 203.0.113.10:5060: Connection refused"};
  StepFailure rst{Operation::connect, net::NetFailure::refused, "connect 203.0.113.10:5060: Connection refused"};
  auto r =
      result_of({ended("INVITE", Outcome::refused, icmp), ended("INVITE", Outcome::refused, rst, 0, "tcp")}, "both");
  auto j = judge(r, params("both"));
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.refused"});
  CHECK(j.findings[0].severity == Severity::warning);
  CHECK(j.findings[0].operation == Operation::receive);
  CHECK(j.findings[0].message.find("refused the requests") != std::string::npos);
  CHECK(j.summary == "no answer from the SIP mirror at 203.0.113.10:5060/both; SIP ALG presence unknown");

  auto tcp = judge(result_of({ended("INVITE", Outcome::refused, rst, 0, "tcp")}, "tcp"), params("tcp"));
  REQUIRE(codes(tcp) == std::vector<std::string>{"sip_alg.refused"});
  CHECK(tcp.findings[0].operation == Operation::connect);
}

TEST_CASE("sip_alg.no_answer: nothing came back, the failed step named") {
  auto silent =
      judge(result_of({ended("INVITE", Outcome::no_response), ended("REGISTER", Outcome::no_response)}), params());
  REQUIRE(codes(silent) == std::vector<std::string>{"sip_alg.no_answer"});
  CHECK(silent.findings[0].severity == Severity::warning);
  CHECK(silent.findings[0].operation == Operation::receive);

  StepFailure timeout{Operation::connect, net::NetFailure::timeout, "connect 203.0.113.10:5060: Connection timed out"};
  auto tcp = judge(result_of({ended("INVITE", Outcome::failed, timeout, 0, "tcp")}, "tcp"), params("tcp"));
  REQUIRE(codes(tcp) == std::vector<std::string>{"sip_alg.no_answer"});
  CHECK(tcp.findings[0].operation == Operation::connect);
  CHECK(tcp.findings[0].message.find("connect 203.0.113.10:5060: Connection timed out") != std::string::npos);
}

TEST_CASE("silence from the path's RTT: wait_ms, wait_basis and path_rtt_ms per attempt and in the message") {
  auto lost = ended("INVITE", Outcome::no_response);
  lost.silence = net::silence_wait_for(std::chrono::milliseconds(120), Millis(1500));
  auto answered = mirrored("REGISTER", 0);
  auto r = result_of({lost, answered});
  json d = r;
  CHECK(d["attempts"][0]["wait_ms"] == 480);
  CHECK(d["attempts"][0]["wait_basis"] == "rtt");
  CHECK(d["attempts"][0]["path_rtt_ms"] == 120);
  CHECK_FALSE(d["attempts"][1].contains("wait_ms"));  // answered: no silence was waited out
  CHECK(d["wait_ms"] == 480);
  CHECK(d["wait_basis"] == "rtt");

  auto all_lost = ended("REGISTER", Outcome::no_response);
  all_lost.silence = lost.silence;
  auto j = judge(result_of({lost, all_lost}), params());
  REQUIRE(codes(j) == std::vector<std::string>{"sip_alg.no_answer"});
  CHECK(j.findings[0].message.find("within 480 ms (from the 120.0 ms RTT this scan measured to it)") !=
        std::string::npos);

  auto unknown = ended("INVITE", Outcome::no_response);
  unknown.silence = net::silence_wait_for(std::nullopt, Millis(1500));
  json t = result_of({unknown});
  CHECK(t["attempts"][0]["wait_basis"] == "timeout");
  CHECK(t["attempts"][0]["wait_ms"] == 1500);
  CHECK_FALSE(t["attempts"][0].contains("path_rtt_ms"));
  CHECK(judge(result_of({unknown}), params()).findings[0].message.find("within 1500 ms") != std::string::npos);
}

TEST_CASE("details: the contract keys, one entry per request, the shown request field by field") {
  auto rewritten = mirrored("INVITE");
  rewritten.diff->received["c="] = "IN IP4 203.0.113.1";
  rewritten.diff->received["X-Added"] = "1";
  rewritten.diff->changes = {{"c=", "IN IP4 198.18.0.2", "IN IP4 203.0.113.1"}, {"X-Added", "", "1"}};
  rewritten.diff->order.push_back("X-Added");
  StepFailure timeout{Operation::connect, net::NetFailure::timeout, "connect 203.0.113.10:5060: timed out"};
  auto r = result_of({rewritten, ended("INVITE", Outcome::failed, timeout, 0, "tcp")}, "both");
  json d = r;
  for (const char* key : {"host", "port", "transport", "alg_detected", "rewritten"}) CHECK(d.contains(key));
  CHECK(d["host"] == "203.0.113.10");
  CHECK(d["port"] == 5060);
  CHECK(d["transport"] == "both");
  CHECK(d["alg_detected"] == true);
  CHECK(d["rewritten"] == json::array({"c=", "X-Added"}));
  REQUIRE(d["attempts"].size() == 2);
  const auto& a = d["attempts"][0];
  CHECK(a["source_port"] == 5060);
  CHECK(a["outcome"] == "mirrored");
  CHECK(a["status"] == 488);
  CHECK(a["rewritten"] == json::array({"c=", "X-Added"}));
  CHECK(a["changes"]["c="]["received"] == "IN IP4 203.0.113.1");
  CHECK(a["observed_source"] == "203.0.113.1:61000");
  CHECK(a["response_via_rewritten"] == false);
  const auto& b = d["attempts"][1];
  CHECK(b["source_port"] == "ephemeral");
  CHECK(b["outcome"] == "connect_failed");
  CHECK(b["operation"] == "connect");
  CHECK(b["error"] == "connect 203.0.113.10:5060: timed out");
  CHECK(d["sent"]["c="] == "IN IP4 198.18.0.2");
  CHECK(d["received"]["c="] == "IN IP4 203.0.113.1");
  CHECK(d["fields"] == json::array({"Method", "Via", "c=", "X-Added"}));
  CHECK(d["shown_attempt"] == "INVITE over udp from port 5060");
  CHECK(d["observed_source"] == "203.0.113.1:61000");
  CHECK(d["response_via_rewritten"] == false);
  CHECK(d["dropped"] == json::array());
}

TEST_CASE("view: the field-by-field table and the requests table, from details alone") {
  auto rewritten = mirrored("INVITE");
  rewritten.diff->received["c="] = "IN IP4 203.0.113.1";
  rewritten.diff->received.erase("Via");
  rewritten.diff->received["X-Added"] = "1";
  rewritten.diff->changes = {{"Via", "SIP/2.0/UDP 198.18.0.2:5060;rport", ""},
                             {"c=", "IN IP4 198.18.0.2", "IN IP4 203.0.113.1"},
                             {"X-Added", "", "1"}};
  rewritten.diff->order.push_back("X-Added");
  json d = result_of({rewritten, ended("REGISTER", Outcome::source_port_busy, std::nullopt, 5060)});
  auto v = checks::sip_alg_view(d);
  REQUIRE(v.blocks.size() == 2);
  const auto* fields = std::get_if<view::Table>(&v.blocks[0]);
  REQUIRE(fields);
  CHECK(fields->headers == std::vector<std::string>{"Field", "Sent", "Received"});
  CHECK(fields->caption.find("(INVITE over udp from port 5060)") != std::string::npos);
  REQUIRE(fields->rows.size() == 4);
  std::vector<std::string> names;
  for (const auto& row : fields->rows) names.push_back(row[0].text);
  CHECK(names == std::vector<std::string>{"Method", "Via", "c=", "X-Added"});  // message order
  CHECK(fields->changes == std::vector<view::RowChange>{view::RowChange::same, view::RowChange::removed,
                                                        view::RowChange::changed, view::RowChange::added});
  CHECK(fields->rows[2][1].text == "IN IP4 198.18.0.2");
  CHECK(fields->rows[2][2].text == "IN IP4 203.0.113.1");
  CHECK(fields->rows[2][2].tone == view::Tone::bad);
  CHECK(fields->rows[2][1].mono);

  const auto* requests = std::get_if<view::Table>(&v.blocks[1]);
  REQUIRE(requests);
  REQUIRE(requests->rows.size() == 2);
  CHECK(requests->rows[0][3].tone == view::Tone::bad);  // mirrored, but rewritten
  CHECK(requests->rows[0][4].text == "Via, c=, X-Added");
  CHECK(requests->rows[1][3].tone == view::Tone::muted);
  for (const char* key : {"sent", "received", "fields", "shown_attempt", "attempts"})
    CHECK(std::find(v.shown_keys.begin(), v.shown_keys.end(), key) != v.shown_keys.end());
}

TEST_CASE("view: details without an order or any exchange still draw") {
  json d = {{"host", "h"}, {"sent", {{"Via", "a"}, {"Contact", "b"}}}, {"received", {{"Via", "a"}, {"Contact", "c"}}}};
  auto v = checks::sip_alg_view(d);
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks[0]);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.changes == std::vector<view::RowChange>{view::RowChange::changed, view::RowChange::same});  // key order
  CHECK(checks::sip_alg_view(json{{"host", "h"}, {"alg_detected", false}}).blocks.empty());
  CHECK(checks::sip_alg_view(json::array()).blocks.empty());
}
