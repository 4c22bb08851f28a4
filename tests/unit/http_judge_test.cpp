// The http kind's judge: one case per finding code, the passing case, the
// details, and the HTTP-date parser (RFC 9110 § 5.6.7 examples, malformed input).
#include <doctest/doctest.h>

#include "checks/http/http_check.hpp"

using namespace callready;
using namespace callready::checks::http;
using nlohmann::json;

namespace {

HttpParams params(json j = json::object()) {
  if (!j.contains("url")) j["url"] = "https://xsp.example.test/com.broadsoft.xsi-actions/v2.0/versions";
  ParamReader r(j);
  auto p = HttpParams::parse(r);
  r.finish();
  REQUIRE(r.ok());
  return p;
}

HttpAttempt ok(int status = 200, double ttfb = 40) {
  HttpAttempt a;
  a.status = status;
  a.reason = status == 200 ? "OK" : "Status";
  a.ttfb_ms = ttfb;
  a.connect_ms = 1;
  a.tls_version = "TLSv1.3";
  a.server = "nginx";
  a.date_offset_s = 0.4;
  return a;
}

HttpAttempt failed(AttemptFailure f, net::NetFailure n = net::NetFailure::other) {
  HttpAttempt a;
  a.failure = f;
  a.net = n;
  a.operation = Operation::connect;
  a.message = "it failed";
  return a;
}

HttpResult result(std::vector<HttpAddress> addresses) {
  HttpResult r;
  r.url = "https://xsp.example.test/com.broadsoft.xsi-actions/v2.0/versions";
  r.method = "GET";
  r.addresses = std::move(addresses);
  return r;
}

HttpAddress address(std::string ip, std::vector<HttpAttempt> attempts) { return {std::move(ip), std::move(attempts)}; }

std::vector<std::string> codes(const Judgement& j) {
  std::vector<std::string> out;
  for (const auto& f : j.findings) out.push_back(f.code);
  return out;
}

Finding only(const Judgement& j, const std::string& code) {
  REQUIRE_MESSAGE(j.findings.size() == 1, doctest::toString(codes(j).size()));
  REQUIRE(j.findings[0].code == code);
  return j.findings[0];
}

}  // namespace

TEST_CASE("every address answering 200 in time passes") {
  auto p = params();
  auto r = result({address("203.0.113.10", {ok()}), address("203.0.113.11", {ok(200, 55)})});
  auto j = judge_http(r, p);
  CHECK(j.findings.empty());
  CHECK(j.summary.find("200 OK from 203.0.113.10 in 40 ms") != std::string::npos);
  json d = r;
  r.max_ttfb_ms = p.max_ttfb_ms;
  d = r;
  REQUIRE(d["addresses"].size() == 2);
  CHECK(d["addresses"][0]["status"] == 200);
  CHECK(d["addresses"][0]["ttfb_ms"] == 40);
  CHECK(d["addresses"][0]["location"].is_null());
  CHECK(d["addresses"][0]["client_cert_requested"] == false);
  CHECK(d["addresses"][0]["client_ca_names"].empty());
  CHECK(d["addresses"][0]["date_offset_s"] == 0.4);
  CHECK(d["addresses"][0]["blocked"] == false);
  CHECK(d["proxy"].is_null());
}

TEST_CASE("http.server_error: a 5xx at one address of two is a warning naming it") {
  auto p = params();
  auto r = result({address("203.0.113.10", {ok()}), address("203.0.113.11", {ok(503), ok(503), ok(503)})});
  auto j = judge_http(r, p);
  const auto& f = only(j, "http.server_error");
  CHECK(f.severity == Severity::warning);
  CHECK(f.message.find("203.0.113.11 answered 503") != std::string::npos);
  CHECK(f.message.find("3 of 3 tries") != std::string::npos);
  CHECK(j.summary.find("1 of 2 addresses fail (203.0.113.11)") != std::string::npos);
  r.max_ttfb_ms = p.max_ttfb_ms;
  json d = r;
  CHECK(d["addresses"][1]["blocked"] == true);
  CHECK(d["addresses"][1]["attempts"].size() == 3);
}

TEST_CASE("http.server_error: every address failing is critical") {
  auto j = judge_http(result({address("203.0.113.10", {ok(500)})}), params({{"tries", 1}}));
  CHECK(only(j, "http.server_error").severity == Severity::critical);
}

TEST_CASE("http.slow: answers slower than max_ttfb_ms block the address") {
  auto p = params();
  auto r = result({address("203.0.113.10", {ok()}), address("203.0.113.11", {ok(200, 3004), ok(200, 3003)})});
  const auto& f = only(judge_http(r, p), "http.slow");
  CHECK(f.message.find("after 3003 ms, over the 2000 ms") != std::string::npos);
}

TEST_CASE("a retry that succeeds keeps the address usable") {
  auto r = result({address("203.0.113.10", {failed(AttemptFailure::timeout), ok()})});
  CHECK(judge_http(r, params()).findings.empty());
}

TEST_CASE("network failures are named by their code") {
  const std::pair<AttemptFailure, const char*> rows[] = {
      {AttemptFailure::connect, "http.connect_failed"},
      {AttemptFailure::handshake, "http.handshake_failed"},
      {AttemptFailure::timeout, "http.timeout"},
      {AttemptFailure::closed, "http.closed"},
      {AttemptFailure::no_status_line, "http.no_status_line"},
      {AttemptFailure::header_too_large, "http.header_too_large"},
      {AttemptFailure::proxy_unreachable, "http.proxy_unreachable"},
      {AttemptFailure::proxy_refused, "http.proxy_refused"},
      {AttemptFailure::proxy_bad_response, "http.proxy_bad_response"},
  };
  for (const auto& [failure, code] : rows) {
    auto j = judge_http(result({address("203.0.113.10", {failed(failure)})}), params({{"tries", 1}}));
    const auto& f = only(j, code);
    CHECK(f.severity == Severity::critical);
    CHECK(f.operation == Operation::connect);
    CHECK(!f.remediation.empty());
  }
}

TEST_CASE("http.connect_failed says how the connection failed") {
  auto j = judge_http(result({address("203.0.113.10", {failed(AttemptFailure::connect, net::NetFailure::refused)})}),
                      params({{"tries", 1}}));
  CHECK(only(j, "http.connect_failed").message.find("refused the connection") != std::string::npos);
}

TEST_CASE("http.proxy_auth_required is said once with the scheme, not per address") {
  auto a = failed(AttemptFailure::proxy_auth_required);
  a.proxy_auth_scheme = "Basic";
  auto r = result({address("203.0.113.10", {a}), address("203.0.113.11", {a})});
  r.proxy = "http://proxy.example.test:3128/";
  const auto& f = only(judge_http(r, params({{"tries", 1}})), "http.proxy_auth_required");
  CHECK(f.message.find("(Basic)") != std::string::npos);
}

TEST_CASE("a machine that cannot try an address (local) learns nothing from it") {
  auto r = result({address("203.0.113.10", {ok()}), address("2001:db8::10", {failed(AttemptFailure::local)})});
  CHECK(judge_http(r, params()).findings.empty());
}

TEST_CASE("http.redirect unless allow_redirect") {
  auto a = ok(301);
  a.reason = "Moved Permanently";
  a.location = "https://elsewhere.example.test/";
  auto r = result({address("203.0.113.10", {a})});
  const auto& f = only(judge_http(r, params()), "http.redirect");
  CHECK(f.severity == Severity::critical);
  CHECK(f.message.find("301 Moved Permanently redirecting to https://elsewhere.example.test/") != std::string::npos);
  CHECK(judge_http(r, params({{"allow_redirect", true}})).findings.empty());
  r.max_ttfb_ms = 2000;
  json d = r;
  CHECK(d["addresses"][0]["location"] == "https://elsewhere.example.test/");
}

TEST_CASE("http.client_cert_not_requested when mutual TLS is required") {
  auto asked = ok(400);
  asked.client_cert_requested = true;
  asked.client_ca_names = {"CN=Callready Test Root,O=Callready Test"};
  auto p = params({{"require_client_cert", true}});
  CHECK(judge_http(result({address("203.0.113.10", {asked})}), p).findings.empty());
  const auto& f = only(judge_http(result({address("203.0.113.10", {ok()})}), p), "http.client_cert_not_requested");
  CHECK(f.operation == Operation::handshake);
  json d = result({address("203.0.113.10", {asked})});
  CHECK(d["addresses"][0]["client_ca_names"][0] == "CN=Callready Test Root,O=Callready Test");
}

TEST_CASE("mutual TLS enforced: a refusal for want of a certificate passes when one is required") {
  auto refused = failed(AttemptFailure::closed);
  refused.operation = Operation::receive;
  refused.message = "waiting for the answer: tlsv13 alert certificate required";
  refused.client_cert_requested = true;
  refused.client_ca_names = {"CN=Callready Client CA,O=Callready Test"};
  refused.refused_without_certificate = true;
  refused.tls_version = "TLSv1.3";
  auto r = result({address("203.0.113.10", {refused})});
  auto p = params({{"require_client_cert", true}});
  auto j = judge_http(r, p);
  CHECK(j.findings.empty());
  CHECK(j.summary.find("203.0.113.10 demands a client certificate (mutual TLS)") != std::string::npos);
  CHECK(!attempt_failed(refused, 2000, true));
  CHECK(attempt_failed(refused, 2000, false));
  r.require_client_cert = true;
  json d = r;
  CHECK(d["addresses"][0]["blocked"] == false);
  CHECK(d["addresses"][0]["refused_without_certificate"] == true);
  CHECK(d["addresses"][0]["client_ca_names"][0] == "CN=Callready Client CA,O=Callready Test");
}

TEST_CASE("http.client_cert_demanded: a URL clients use without a certificate refuses them") {
  auto refused = failed(AttemptFailure::handshake);
  refused.operation = Operation::handshake;
  refused.client_cert_requested = true;
  refused.refused_without_certificate = true;
  auto j = judge_http(result({address("203.0.113.10", {refused})}), params({{"tries", 1}}));
  const auto& f = only(j, "http.client_cert_demanded");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::handshake);
  CHECK(f.message.find("203.0.113.10 demands a client certificate") != std::string::npos);
}

namespace {

SrvTargetAddresses srv_target(std::string name, std::uint16_t port, std::uint16_t priority,
                              std::vector<std::string> ips) {
  SrvTargetAddresses t;
  t.record = {name, port, priority, 10};
  t.resolved.host = name;
  for (const auto& ip : ips) t.resolved.addresses.push_back(boost::asio::ip::make_address(ip));
  if (ips.empty()) t.resolved.failure = net::DnsFailure::nxdomain;
  return t;
}

HttpAddress behind(std::string target, std::string ip, unsigned short port, std::vector<HttpAttempt> attempts) {
  HttpAddress a{std::move(ip), std::move(attempts)};
  a.target = std::move(target);
  a.port = port;
  return a;
}

}  // namespace

TEST_CASE("SRV: per target, per address, in RFC 2782 order, with each target's port") {
  auto p = params({{"srv", "_xsi-client._tcp.xsp.example.test"}});
  auto r = result({behind("xsp1.example.test", "203.0.113.10", 8443, {ok()}),
                   behind("xsp2.example.test", "203.0.113.11", 443, {ok(503), ok(503), ok(503)})});
  r.srv = SrvLookup{"_xsi-client._tcp.xsp.example.test",
                    net::DnsFailure::none,
                    "",
                    {srv_target("xsp1.example.test", 8443, 10, {"203.0.113.10"}),
                     srv_target("xsp2.example.test", 443, 20, {"203.0.113.11"})},
                    false};
  auto j = judge_http(r, p);
  const auto& f = only(j, "http.server_error");
  CHECK(f.message.find("at xsp2.example.test (203.0.113.11 port 443) answered 503") != std::string::npos);
  r.max_ttfb_ms = 2000;
  json d = r;
  CHECK(d["srv"]["name"] == "_xsi-client._tcp.xsp.example.test");
  CHECK(d["srv"]["fallback"] == false);
  CHECK(d["srv"]["targets"][0]["target"] == "xsp1.example.test");
  CHECK(d["srv"]["targets"][0]["port"] == 8443);
  CHECK(d["srv"]["targets"][0]["addresses"] == json::array({"203.0.113.10"}));
  CHECK(d["addresses"][0]["target"] == "xsp1.example.test");
  CHECK(d["addresses"][0]["port"] == 8443);
  CHECK(d["addresses"][1]["blocked"] == true);
  auto v = http_view(d);
  REQUIRE(v.blocks.size() == 1);
}

TEST_CASE("http.srv_target_no_address: a target without an address is named") {
  auto p = params({{"srv", "_xsi-client._tcp.xsp.example.test"}});
  auto r = result({behind("xsp1.example.test", "203.0.113.10", 443, {ok()})});
  r.srv = SrvLookup{
      "_xsi-client._tcp.xsp.example.test",
      net::DnsFailure::none,
      "",
      {srv_target("xsp1.example.test", 443, 10, {"203.0.113.10"}), srv_target("gone.example.test", 443, 20, {})},
      false};
  const auto& f = only(judge_http(r, p), "http.srv_target_no_address");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::resolve);
  CHECK(f.message.find("SRV target gone.example.test (port 443)") != std::string::npos);
}

TEST_CASE("http.srv_fallback: no SRV record, the URL host's addresses are used") {
  auto p = params({{"srv", "_xsi-client._tcp.xsp.example.test"}});
  auto r = result({address("203.0.113.10", {ok()})});
  r.srv = SrvLookup{"_xsi-client._tcp.xsp.example.test", net::DnsFailure::nxdomain, "", {}, true};
  const auto& f = only(judge_http(r, p), "http.srv_fallback");
  CHECK(f.severity == Severity::warning);
  CHECK(f.message.find("the name does not exist") != std::string::npos);
  CHECK(f.message.find("fall back to the A/AAAA records of xsp.example.test") != std::string::npos);
  json d = r;
  CHECK(d["srv"]["fallback"] == true);
  CHECK(d["srv"]["failure"] == "nxdomain");
}

TEST_CASE("http.clock_offset beyond max_clock_offset_s") {
  auto a = ok();
  a.date_offset_s = -42.5;
  const auto& f = only(judge_http(result({address("203.0.113.10", {a})}), params()), "http.clock_offset");
  CHECK(f.severity == Severity::warning);
  CHECK(f.message.find("-42.5 s") != std::string::npos);
  a.date_offset_s = 2.9;
  CHECK(judge_http(result({address("203.0.113.10", {a})}), params()).findings.empty());
}

TEST_CASE("http.certificate_untrusted") {
  auto a = ok();
  a.verify_error = "self-signed certificate";
  CHECK(only(judge_http(result({address("203.0.113.10", {a})}), params()), "http.certificate_untrusted")
            .message.find("self-signed") != std::string::npos);
}

TEST_CASE("http.body_too_large and http.body_incomplete") {
  auto big = ok();
  big.body = BodyProblem::too_large;
  big.body_bytes = 1048576;
  CHECK(only(judge_http(result({address("203.0.113.10", {big})}), params()), "http.body_too_large")
            .message.find("1048576 bytes") != std::string::npos);
  auto endless = ok();
  endless.body = BodyProblem::timeout;
  CHECK(only(judge_http(result({address("203.0.113.10", {endless})}), params()), "http.body_incomplete")
            .message.find("never finished") != std::string::npos);
}

TEST_CASE("http.no_address when the host does not resolve") {
  HttpResult r = result({});
  r.resolved.host = "xsp.example.test";
  r.resolved.failure = net::DnsFailure::nxdomain;
  auto j = judge_http(r, params());
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "http.no_address");
  CHECK(j.findings[0].operation == Operation::resolve);
}

TEST_CASE("params: defaults, and bad values refused") {
  auto p = params();
  CHECK(p.method == "GET");
  CHECK(p.max_ttfb_ms == 2000);
  CHECK(!p.allow_redirect);
  CHECK(p.tries == 3);
  CHECK(p.parsed.port == 443);
  CHECK(p.target() == "https://xsp.example.test/com.broadsoft.xsi-actions/v2.0/versions");
  CHECK(p.srv.empty());
  for (json bad :
       {json{{"url", "xsp.example.test/x"}}, json{{"url", "ftp://x/"}}, json{{"url", "https://x/"}, {"method", "POST"}},
        json{{"url", "https://x/"}, {"tries", 0}}, json{{"url", "https://x/"}, {"proxy", "socks5://p:1080"}}}) {
    ParamReader r(bad);
    (void)HttpParams::parse(r);
    r.finish();
    CHECK_MESSAGE(!r.ok(), bad.dump());
  }
}

TEST_CASE("parse_http_date: the three RFC 9110 forms of one instant") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK(parse_http_date("Wed, 02 Dec 2026 17:00:00 GMT") == 1796230800);
}

TEST_CASE("parse_http_date: malformed dates are none") {
  for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                          "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "1994-11-06T08:49:37Z",
                          "Sun, 06 Nov 1994 25:49:37 GMT"})
    CHECK_MESSAGE(!parse_http_date(bad), bad);
}
