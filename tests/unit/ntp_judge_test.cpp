// The `ntp` judge, details, metrics and view from hand-built results: no sockets.
#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>

#include "checks/ntp/ntp_check.hpp"
#include "checks/ntp/ntp_metrics.hpp"
#include "checks/ntp/ntp_result.hpp"

using namespace callready;
using namespace callready::checks::ntp;
using nlohmann::json;

namespace {

NtpParams params() {
  NtpParams p;
  p.host = "time.example.net";
  return p;
}

NtpResult asked(const NtpParams& p) {
  NtpResult r;
  r.server = p.host;
  r.port = p.port;
  r.address = boost::asio::ip::make_address("203.0.113.10");
  r.local_clock.known = true;
  r.local_clock.synchronised = true;
  return r;
}

Reply reply(int request, double offset_ms, double delay_ms, std::uint8_t stratum = 2) {
  Reply r;
  r.request = request;
  r.packet.mode = Mode::server;
  r.packet.stratum = stratum;
  r.packet.reference_id = 0xc0000201;     // 192.0.2.1
  r.packet.root_delay = 0x00000a00;       // 39.0625 ms
  r.packet.root_dispersion = 0x00000100;  // 3.90625 ms
  r.kind = ReplyKind::sample;
  r.sample = {offset_ms, delay_ms};
  return r;
}

// Four samples; the third has the lowest delay.
NtpResult answered(const NtpParams& p, double offset_ms = 1.25) {
  auto r = asked(p);
  r.exchange.sent_at = {Millis(0), Millis(2000), Millis(4000), Millis(6000)};
  r.exchange.replies = {reply(0, offset_ms + 2, 14), reply(1, offset_ms + 1, 12), reply(2, offset_ms, 10),
                        reply(3, offset_ms - 1, 11)};
  return r;
}

checks::IcmpError port_unreachable(const char* from) {
  checks::IcmpError e;
  e.destination = boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("203.0.113.10"), 123);
  e.error = ECONNREFUSED;
  e.origin = 2;  // SO_EE_ORIGIN_ICMP
  e.type = 3;
  e.code = 3;
  e.offender = boost::asio::ip::make_address(from);
  return e;
}

NtpResult unanswered(const NtpParams& p) {
  auto r = asked(p);
  r.exchange.sent_at = {Millis(0), Millis(2000)};
  r.exchange.failed = Operation::receive;
  r.exchange.failure = net::NetFailure::timeout;
  r.exchange.error = "no valid reply to 2 request(s) within 2500 ms";
  return r;
}

Finding only(const Judgement& j) {
  REQUIRE(j.findings.size() == 1);
  return j.findings.front();
}

void no_vendor(const Judgement& j) {
  for (const auto& f : j.findings) {
    CHECK(f.message.find("Webex") == std::string::npos);
    CHECK(f.remediation.find("Webex") == std::string::npos);
    CHECK(f.requirement.empty());  // the rule's, attached by scoring
  }
}

}  // namespace

TEST_CASE("pass: four samples, the lowest delay kept, no findings") {
  auto p = params();
  auto r = answered(p);
  auto j = judge(r, p);
  CHECK(j.findings.empty());
  CHECK(j.summary ==
        "NTP answered from time.example.net (203.0.113.10): stratum 2, refid 192.0.2.1, offset +1.250 ms, delay "
        "10.000 ms (best of 4)");
  json d = r;
  CHECK(d["server"] == "time.example.net");
  CHECK(d["address"] == "203.0.113.10");
  CHECK(d["reachable"] == true);
  CHECK(d["outcome"] == "answered");
  CHECK(d["offset_ms"] == 1.25);
  CHECK(d["delay_ms"] == 10.0);
  CHECK(d["stratum"] == 2);
  CHECK(d["leap"] == "none");
  CHECK(d["refid"] == "192.0.2.1");
  CHECK(d["kiss_code"].is_null());
  CHECK(d["root_distance_ms"] == doctest::Approx(39.0625 / 2 + 3.90625 + 5).epsilon(1e-3));
  CHECK(d["samples"].size() == 4);
  CHECK(d["samples"][2]["kept"] == true);
  CHECK(d["samples"][0]["kept"] == false);
  CHECK(d["local_clock"]["synchronised"] == true);
  CHECK(d["requests_sent"] == 4);
  CHECK(d["icmp"].is_null());
}

TEST_CASE("stratum 1: the refid is the reference source's text") {
  auto p = params();
  auto r = answered(p);
  for (auto& rep : r.exchange.replies) {
    rep.packet.stratum = 1;
    rep.packet.reference_id = 0x47505300;  // "GPS\0"
  }
  json d = r;
  CHECK(d["refid"] == "GPS");
}

TEST_CASE("ntp.no_address: the resolve failure as data, operation resolve") {
  auto p = params();
  NtpResult r;
  r.server = p.host;
  checks::TargetAddresses t;
  t.host = p.host;
  t.failure = net::DnsFailure::nxdomain;
  r.unresolved = t;
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.no_address");
  CHECK(f.operation == Operation::resolve);
  json d = r;
  CHECK(d["outcome"] == "unresolved");
  CHECK(d["reachable"] == false);
}

TEST_CASE("ntp.silent: no answer within the silence limit, the firewall rule as remediation") {
  auto p = params();
  auto r = unanswered(p);
  auto j = judge(r, p);
  auto f = only(j);
  CHECK(f.code == "ntp.silent");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK_FALSE(f.inconclusive);
  CHECK(f.remediation.find("Allow outbound UDP 123") == 0);
  CHECK(j.summary == "no NTP answer from time.example.net:123/udp: no valid reply to 2 request(s) within 2500 ms");
  json d = r;
  CHECK(d["outcome"] == "silent");
  CHECK(d["offset_ms"].is_null());
  CHECK(d["error"] == "no valid reply to 2 request(s) within 2500 ms");
  no_vendor(j);
}

TEST_CASE("optional: a host that need not serve NTP is not failed for silence, but judged when it answers") {
  auto p = params();
  p.optional = true;
  auto j = judge(unanswered(p), p);
  auto f = only(j);
  CHECK(f.code == "ntp.silent");
  CHECK(f.severity == Severity::info);
  CHECK(f.inconclusive);
  CHECK(j.summary.find("(this host need not serve NTP)") != std::string::npos);
  auto late = answered(p, 5000);
  auto k = judge(late, p);
  REQUIRE(k.findings.size() == 1);
  CHECK(k.findings[0].code == "ntp.offset");
  CHECK(k.findings[0].severity == Severity::warning);
}

TEST_CASE("ntp.rejected: ICMP port unreachable from a router on the path") {
  auto p = params();
  auto r = unanswered(p);
  r.exchange.icmp = port_unreachable("203.0.113.1");
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.rejected");
  CHECK(f.severity == Severity::critical);
  CHECK_FALSE(f.inconclusive);
  CHECK(f.message.find("203.0.113.1") != std::string::npos);
  json d = r;
  CHECK(d["outcome"] == "rejected");
  CHECK(d["closed_port"] == false);
}

TEST_CASE("ntp.port_closed: ICMP port unreachable from the server itself, inconclusive") {
  auto p = params();
  auto r = unanswered(p);
  r.exchange.icmp = port_unreachable("203.0.113.10");
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.port_closed");
  CHECK(f.inconclusive);
  json d = r;
  CHECK(d["outcome"] == "closed");
  CHECK(d["closed_port"] == true);
}

TEST_CASE("ntp.no_route: the route lookup failed") {
  auto p = params();
  auto r = asked(p);
  r.exchange.failed = Operation::connect;
  r.exchange.failure = net::NetFailure::unreachable;
  r.exchange.error = "connect: Network is unreachable";
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.no_route");
  CHECK(f.operation == Operation::connect);
}

TEST_CASE("ntp.bad_response: only datagrams that were not a reply to our requests") {
  auto p = params();
  auto r = unanswered(p);
  r.exchange.failed = Operation::parse;
  r.exchange.rejected_replies = 2;
  r.exchange.rejected_reason = "mode 3, not 4 (server)";
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.bad_response");
  CHECK(f.operation == Operation::parse);
  CHECK(f.message.find("mode 3") != std::string::npos);
}

TEST_CASE("ntp.kiss_of_death: RATE is a warning, DENY and RSTR are critical, no time is reported") {
  auto p = params();
  auto kissed = [&](std::uint32_t code) {
    auto r = asked(p);
    r.exchange.sent_at = {Millis(0)};
    Reply k;
    k.kind = ReplyKind::kiss;
    k.packet.mode = Mode::server;
    k.packet.stratum = 0;
    k.packet.leap = Leap::unsynchronised;
    k.packet.reference_id = code;
    r.exchange.replies = {k};
    return r;
  };
  auto rate = kissed(0x52415445);
  auto f = only(judge(rate, p));
  CHECK(f.code == "ntp.kiss_of_death");
  CHECK(f.severity == Severity::warning);
  CHECK(f.message.find("RATE") != std::string::npos);
  json d = rate;
  CHECK(d["kiss_code"] == "RATE");
  CHECK(d["outcome"] == "kiss");
  CHECK(d["reachable"] == true);
  CHECK(d["stratum"] == 0);
  CHECK(d["offset_ms"].is_null());
  CHECK(d["refid"] == "RATE");
  CHECK(only(judge(kissed(0x44454e59), p)).severity == Severity::critical);  // DENY
  CHECK(only(judge(kissed(0x52535452), p)).severity == Severity::critical);  // RSTR
}

TEST_CASE("ntp.kiss_of_death after samples: the samples are still judged") {
  auto p = params();
  auto r = answered(p);
  Reply k;
  k.request = 3;
  k.kind = ReplyKind::kiss;
  k.packet.stratum = 0;
  k.packet.reference_id = 0x52415445;
  r.exchange.replies.back() = k;
  auto j = judge(r, p);
  auto f = only(j);
  CHECK(f.code == "ntp.kiss_of_death");
  CHECK(j.summary.find("offset +1.250 ms") != std::string::npos);
}

TEST_CASE("ntp.server_unsynchronised: LI 3 or stratum 16, no usable sample") {
  auto p = params();
  auto r = asked(p);
  r.exchange.sent_at = {Millis(0), Millis(2000)};
  auto u = reply(0, 0, 5, 16);
  u.kind = ReplyKind::unsynchronised;
  u.packet.leap = Leap::unsynchronised;
  r.exchange.replies = {u};
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.server_unsynchronised");
  CHECK(f.severity == Severity::critical);
  json d = r;
  CHECK(d["leap"] == "unsynchronised");
  CHECK(d["stratum"] == 16);
  CHECK(d["outcome"] == "unsynchronised");
  CHECK(d["offset_ms"].is_null());
}

TEST_CASE("ntp.offset: beyond max_offset_ms with a synchronised local clock blames the server") {
  auto p = params();
  auto r = answered(p, -2500);
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.offset");
  CHECK(f.severity == Severity::warning);
  CHECK_FALSE(f.inconclusive);
  CHECK(f.message.find("-2500.0 ms") != std::string::npos);
  p.max_offset_ms = 3000;
  CHECK(judge(r, p).findings.empty());
}

TEST_CASE("ntp.local_clock_unsynchronised: info, and a large offset then is inconclusive") {
  auto p = params();
  auto r = answered(p);
  r.local_clock.synchronised = false;
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.local_clock_unsynchronised");
  CHECK(f.severity == Severity::info);
  auto far = answered(p, 5000);
  far.local_clock.synchronised = false;
  auto j = judge(far, p);
  REQUIRE(j.findings.size() == 2);
  CHECK(j.findings[0].code == "ntp.offset");
  CHECK(j.findings[0].inconclusive);
  CHECK(j.findings[0].remediation.find("Synchronise this machine's clock") == 0);
  // An unknown local state (adjtimex failed) says nothing.
  auto unknown = answered(p);
  unknown.local_clock = {};
  CHECK(judge(unknown, p).findings.empty());
}

TEST_CASE("ntp.root_distance: above max_root_distance_ms") {
  auto p = params();
  auto r = answered(p);
  for (auto& rep : r.exchange.replies) rep.packet.root_dispersion = 0x00020000;  // 2 s
  auto f = only(judge(r, p));
  CHECK(f.code == "ntp.root_distance");
  CHECK(f.severity == Severity::warning);
}

TEST_CASE("params: defaults, bounds and the target") {
  json given = {{"host", "time.example.net"}};
  ParamReader ok(given);
  auto p = NtpParams::parse(ok);
  ok.finish();
  CHECK(ok.ok());
  CHECK(p.port == 123);
  CHECK(p.samples == 4);
  CHECK(p.max_offset_ms == 1000);
  CHECK(p.max_root_distance_ms == 1500);
  CHECK(p.target() == "time.example.net:123/udp");
  CHECK_FALSE(p.optional);
  json wrong = {{"host", "t"}, {"samples", 0}, {"bogus", 1}};
  ParamReader bad(wrong);
  (void)NtpParams::parse(bad);
  bad.finish();
  CHECK_FALSE(bad.ok());
  auto kind = checks::ntp_check_kind();
  CHECK(kind.name == "ntp");
  CHECK(kind.validate(json{{"host", "x"}, {"port", 70000}}).size() == 1);
}

TEST_CASE("metrics and view read the details alone") {
  auto p = params();
  json d = answered(p);
  auto samples = checks::ntp_metrics(d);
  REQUIRE(samples.size() == 4);  // whether it answered is the check's status series
  CHECK(samples[0].value == doctest::Approx(0.00125));
  CHECK(samples[1].value == doctest::Approx(0.010));
  CHECK(samples[2].value == 2);
  json silent = unanswered(p);
  CHECK(checks::ntp_metrics(silent).size() == 4);
  CHECK(std::isnan(checks::ntp_metrics(silent)[0].value));
  auto v = ntp_view(d);
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks[0]);
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[2][4].text == "kept");
  CHECK(t.rows[2][3].text == "10.000 ms");
  CHECK(ntp_view(silent).blocks.empty());
}
