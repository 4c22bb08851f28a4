// The proxy kind without sockets: the HTTP head codec (RFC 9112 shapes and
// malformed input), the echo's body and answer, the head comparison, and the
// judge with one case per finding code plus the pass case.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "checks/proxy/proxy_check.hpp"
#include "checks/proxy/proxy_echo_service.hpp"
#include "checks/proxy/proxy_exchange.hpp"
#include "checks/proxy/proxy_http.hpp"
#include "checks/proxy/proxy_result.hpp"
#include "checks/proxy/proxy_tls.hpp"
#include "probe/clock.hpp"
#include "probe/respond/session_log.hpp"
#include "tests/support/process.hpp"

using namespace callready;
using namespace callready::checks::proxy;
using nlohmann::json;

namespace {

const std::string kPin(64, 'a');
const std::string kOtherPin(64, 'b');

Params params() {
  Params p;
  p.host = "203.0.113.10";
  return p;
}

// The echo's view of `sent` after `edit` changed it on the way.
EchoExchange echoed(const std::string& scheme, const std::string& sent, const std::string& arrived,
                    const std::string& source = "198.18.0.2") {
  EchoExchange e;
  e.scheme = scheme;
  e.port = scheme == "https" ? 443 : 80;
  e.via = "direct";
  e.outcome = StepOutcome::ok;
  e.status = 200;
  e.sent = sent;
  e.echo = EchoReport{source, 40000, kPin, arrived};
  e.diff = compare_heads(parse_head(sent).head, parse_head(arrived).head);
  if (scheme == "https")
    e.chain = {{"CN=callready HTTPS echo", "CN=callready HTTPS echo", "callready HTTPS echo", kPin}};
  return e;
}

Result clean() {
  Result r;
  r.host = r.address = "203.0.113.10";
  r.observed = "198.18.0.2";
  r.pin = kPin;
  r.pin_source = "http_echo";
  auto head = echo_request_head("203.0.113.10", "00ff");
  r.exchanges = {echoed("http", head, head), echoed("https", head, head)};
  return r;
}

bool has(const Judgement& j, const std::string& code) {
  return std::any_of(j.findings.begin(), j.findings.end(), [&](const Finding& f) { return f.code == code; });
}

const Finding& get(const Judgement& j, const std::string& code) {
  auto it = std::find_if(j.findings.begin(), j.findings.end(), [&](const Finding& f) { return f.code == code; });
  REQUIRE(it != j.findings.end());
  return *it;
}

}  // namespace

TEST_CASE("head: a request with fields kept in order, case and blanks as RFC 9112 § 5 reads them") {
  auto p = parse_head("GET /x HTTP/1.1\r\nHost: a\r\nX-MiXeD:  v 1 \r\nx-mixed: v2\r\n\r\nBODY");
  REQUIRE(p.status == HeadStatus::ok);
  CHECK(p.head.start_line == "GET /x HTTP/1.1");
  REQUIRE(p.head.fields.size() == 3);
  CHECK(p.head.fields[1].name == "X-MiXeD");
  CHECK(p.head.fields[1].value == "v 1");
  CHECK(p.head.find("X-MIXED")->value == "v 1");
  CHECK(p.head.size == std::string("GET /x HTTP/1.1\r\nHost: a\r\nX-MiXeD:  v 1 \r\nx-mixed: v2\r\n\r\n").size());
  CHECK(p.head.status() == 0);
  CHECK(p.head.is_request());
  for (const char* line :
       {"HTTP/1.1 200 OK", "\x16\x03\x01 not http", "GET  HTTP/1.1", "GET /a b HTTP/1.1", "GET / FTP/1.0"}) {
    Head h;
    h.start_line = line;
    CHECK_FALSE(h.is_request());
  }
  auto lf = parse_head("HTTP/1.1 407 Proxy Authentication Required\nProxy-Authenticate: Basic\n\n");
  REQUIRE(lf.status == HeadStatus::ok);
  CHECK(lf.head.status() == 407);
}

TEST_CASE("head: malformed and unbounded input is refused, never read past 16 KiB") {
  CHECK(parse_head("GET / HTTP/1.1\r\nHost: a\r\n").status == HeadStatus::incomplete);
  CHECK(parse_head("").status == HeadStatus::incomplete);
  CHECK(parse_head("\r\n\r\n").status == HeadStatus::invalid);
  CHECK(parse_head("GET / HTTP/1.1\r\nno colon here\r\n\r\n").status == HeadStatus::invalid);
  CHECK(parse_head("GET / HTTP/1.1\r\n: empty name\r\n\r\n").status == HeadStatus::invalid);
  CHECK(parse_head("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").status == HeadStatus::invalid);
  CHECK(parse_head("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n").status == HeadStatus::invalid);
  CHECK(parse_head(std::string("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26)).status == HeadStatus::invalid);
  CHECK(parse_head("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n").status == HeadStatus::invalid);
  std::string endless = "GET / HTTP/1.1\r\n";
  while (endless.size() < kMaxHeadBytes + 100) endless += "X-Pad: 0123456789\r\n";
  CHECK(parse_head(endless).status == HeadStatus::too_large);
  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxFields; ++i) many += "A: b\r\n";
  CHECK(parse_head(many + "\r\n").status == HeadStatus::too_large);
  CHECK(parse_head(std::string(kMaxHeadBytes + 1, 'G')).status == HeadStatus::too_large);
}

TEST_CASE("response reads: Content-Length, EOF, chunked and oversized bodies are bounded") {
  auto partial = read_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", false);
  CHECK_FALSE(partial.complete);
  auto whole = read_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345", false);
  CHECK(whole.complete);
  CHECK(whole.body == "12345");
  auto eof = read_response("HTTP/1.1 200 OK\r\n\r\nabc", true);
  CHECK(eof.complete);
  CHECK(eof.body == "abc");
  auto chunked = read_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\n", false);
  CHECK(chunked.complete);  // the head says enough: not the echo
  auto huge = read_response("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nxx", false);
  CHECK(huge.complete);
  auto bad_length = read_response("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", false);
  CHECK(bad_length.status == HeadStatus::invalid);
  auto no_status = read_response("HELLO THERE\r\n\r\n", false);
  CHECK(no_status.status == HeadStatus::invalid);
  auto closed = read_response("HTTP/1.1 200", true);
  CHECK_FALSE(closed.complete);
  CHECK(closed.error == "closed in the middle of the head");
}

TEST_CASE("echo body: round trip, and truncated or foreign bodies are not taken for the echo") {
  EchoReport r{"2001:db8::2", 4711, kPin, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"};
  auto body = encode_echo(r);
  auto back = decode_echo(body);
  REQUIRE(back);
  CHECK(back->source_address == "2001:db8::2");
  CHECK(back->source_port == 4711);
  CHECK(back->tls_pin == kPin);
  CHECK(back->head == r.head);
  CHECK_FALSE(decode_echo(body.substr(0, body.size() - 1)));
  CHECK_FALSE(decode_echo(body + "x"));
  CHECK_FALSE(decode_echo("<html>Access denied</html>"));
  CHECK_FALSE(decode_echo("callready-http-echo 1\r\nsource: 1.2.3.4 99999\r\ntls-pin: -\r\nhead-length: 0\r\n\r\n"));
  auto no_pin = decode_echo(encode_echo({"192.0.2.1", 1, "", ""}));
  REQUIRE(no_pin);
  CHECK(no_pin->tls_pin.empty());
}

TEST_CASE("echo answer: the head byte for byte, 400 for malformed, 431 for oversized, nothing while incomplete") {
  auto source = boost::asio::ip::make_address("198.51.100.7");
  std::string head = "GET /a HTTP/1.1\r\nhOsT:   odd  \r\nX-Z: 1\r\n\r\n";
  CHECK_FALSE(callready::checks::http_echo_answer(head.substr(0, 20), source, 5555, ""));
  auto answer = callready::checks::http_echo_answer(head + "ignored body", source, 5555, kPin);
  REQUIRE(answer);
  auto response = read_response(*answer, false);
  REQUIRE(response.complete);
  CHECK(response.head.status() == 200);
  CHECK(response.head.find("Content-Type")->value == kEchoContentType);
  auto echo = decode_echo(response.body);
  REQUIRE(echo);
  CHECK(echo->head == head);
  CHECK(echo->source_address == "198.51.100.7");
  CHECK(echo->source_port == 5555);
  CHECK(echo->tls_pin == kPin);
  auto bad = callready::checks::http_echo_answer("GET / HTTP/1.1\r\nbroken\r\n\r\n", source, 1, "");
  REQUIRE(bad);
  CHECK(read_response(*bad, true).head.status() == 400);
  auto response_as_request = callready::checks::http_echo_answer("HTTP/1.1 200 OK\r\n\r\n", source, 1, "");
  REQUIRE(response_as_request);
  CHECK(read_response(*response_as_request, true).head.status() == 400);
  std::string endless = "GET / HTTP/1.1\r\n";
  while (endless.size() < kMaxHeadBytes + 10) endless += "X-Pad: 0123456789\r\n";
  auto big = callready::checks::http_echo_answer(endless, source, 1, "");
  REQUIRE(big);
  CHECK(read_response(*big, true).head.status() == 431);
  CHECK(big->size() < 1024);  // never an amplifier
}

TEST_CASE("head comparison: added, changed (value or case), removed, reordered, request line") {
  std::string sent = "GET /x HTTP/1.1\r\nHost: h\r\nX-Case: MiXeD\r\nConnection: close\r\nAccept: */*\r\n\r\n";
  std::string arrived =
      "GET http://h/x HTTP/1.1\r\nhost: h\r\nX-Case: mixed\r\nAccept: */*\r\nVia: 1.1 squid\r\n"
      "X-Forwarded-For: 198.18.0.2\r\nVia: 1.1 other\r\n\r\n";
  auto d = compare_heads(parse_head(sent).head, parse_head(arrived).head);
  CHECK(d.added == std::vector<std::string>{"Via", "X-Forwarded-For"});
  CHECK(d.changed == std::vector<std::string>{"Host", "X-Case"});
  CHECK(d.removed == std::vector<std::string>{"Connection"});
  CHECK_FALSE(d.reordered);
  CHECK(d.request_line_changed);
  auto swapped = compare_heads(parse_head("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n").head,
                               parse_head("GET / HTTP/1.1\r\nB: 2\r\nA: 1\r\n\r\n").head);
  CHECK(swapped.reordered);
  CHECK(swapped.any());
  auto same = compare_heads(parse_head(sent).head, parse_head(sent).head);
  CHECK_FALSE(same.any());
}

TEST_CASE("pins and PAC text: hex or sha256/base64, directives read and never run") {
  CHECK(normalise_pin(std::string(64, 'A')) == std::string(64, 'a'));
  CHECK(normalise_pin("AB:" + std::string(62, '0')) == "ab" + std::string(62, '0'));
  CHECK(normalise_pin("sha256/" + std::string(43, 'A') + "=") == std::string(64, '0'));
  CHECK(normalise_pin("abc").empty());
  CHECK(normalise_pin(std::string(64, 'g')).empty());
  CHECK(normalise_pin("sha256/AAAA").empty());
  auto proxies = pac_proxies(
      "function FindProxyForURL(url, host) { if (isPlainHostName(host)) return \"DIRECT\";"
      " return \"PROXY proxy1.example.test:3128; PROXY 192.0.2.8:8080; HTTPS [2001:db8::8]:443\"; }");
  CHECK(proxies == std::vector<std::string>{"proxy1.example.test:3128", "192.0.2.8:8080", "[2001:db8::8]:443"});
  std::vector<ChainCert> chain = {{"CN=a", "CN=Example Issuing CA,O=Example", "Example Issuing CA", kPin}};
  CHECK(chain_has_issuer(chain, {"example issuing ca"}));
  CHECK(chain_has_issuer(chain, {kPin}));
  CHECK_FALSE(chain_has_issuer(chain, {"Other Root"}));
}

TEST_CASE("pass: the request arrived unchanged from the same address, TLS key is the echo's") {
  auto j = judge(clean(), params());
  CHECK(j.findings.empty());
  CHECK(j.summary.find("no proxy") != std::string::npos);
  json d = clean();
  CHECK(d["transparent_proxy"] == false);
  CHECK(d["tls_intercepted"] == false);
  CHECK(d["explicit_proxy"].is_null());
  CHECK(d["interceptor_issuer"].is_null());
  CHECK(d["headers_added"] == json::array());
  CHECK(d["exchanges"].size() == 2);
}

TEST_CASE("proxy.no_address: the responder's name did not resolve") {
  Result r;
  r.host = "echo.example.test";
  r.unresolved = callready::checks::TargetAddresses{"echo.example.test", {}, net::DnsFailure::nxdomain, ""};
  auto j = judge(r, params());
  REQUIRE(j.findings.size() == 1);
  CHECK(j.findings[0].code == "proxy.no_address");
  CHECK(j.findings[0].operation == Operation::resolve);
}

TEST_CASE("proxy.headers_altered and proxy.response_altered: a transparent proxy named by what it did") {
  auto r = clean();
  auto head = r.exchanges[0].sent;
  auto arrived = head.substr(0, head.size() - 2) + "Via: 1.1 router (squid/5.7)\r\nX-Forwarded-For: 198.18.0.2\r\n\r\n";
  r.exchanges[0] = echoed("http", head, arrived);
  r.exchanges[0].response_added = {"Via", "X-Cache"};
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.headers_altered");
  CHECK(f.severity == Severity::critical);
  CHECK(f.message.find("added Via, X-Forwarded-For") != std::string::npos);
  CHECK(has(j, "proxy.response_altered"));
  json d = r;
  CHECK(d["transparent_proxy"] == true);
  CHECK(d["headers_added"] == json{"Via", "X-Forwarded-For"});
  CHECK(j.summary.find("transparent proxy") != std::string::npos);
}

TEST_CASE("proxy.source_changed: the echo saw another address than the control port") {
  auto r = clean();
  auto head = r.exchanges[0].sent;
  r.exchanges[0] = echoed("http", head, head, "203.0.113.99");
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.source_changed");
  CHECK(f.message.find("203.0.113.99") != std::string::npos);
  CHECK(f.message.find("198.18.0.2") != std::string::npos);
  json d = r;
  CHECK(d["transparent_proxy"] == true);
  CHECK(d["source_changed"] == true);
}

TEST_CASE("proxy.answer_replaced: port 80 answered by a proxy's own page") {
  auto r = clean();
  r.exchanges[0].outcome = StepOutcome::not_echo;
  r.exchanges[0].echo.reset();
  r.exchanges[0].status = 403;
  r.exchanges[0].server = "squid/5.7";
  r.exchanges[0].message = "answered HTTP/1.1 403 Forbidden without the echo";
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.answer_replaced");
  CHECK(f.message.find("squid/5.7") != std::string::npos);
  CHECK(json(r)["transparent_proxy"] == true);
}

TEST_CASE("proxy.tls_intercepted: another key than the echo's, the issuer named") {
  auto r = clean();
  r.exchanges[1].chain = {{"CN=203.0.113.10", "CN=Lab Inspection CA,O=Lab", "Lab Inspection CA", kOtherPin},
                          {"CN=Lab Inspection CA,O=Lab", "CN=Lab Inspection CA,O=Lab", "Lab Inspection CA", kOtherPin}};
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.tls_intercepted");
  CHECK(f.message.find("Lab Inspection CA") != std::string::npos);
  json d = r;
  CHECK(d["tls_intercepted"] == true);
  CHECK(d["interceptor_issuer"] == "Lab Inspection CA");
  CHECK(j.summary.find("TLS inspection by \"Lab Inspection CA\"") != std::string::npos);
}

TEST_CASE("proxy.tls_unpinned: no key to compare, inconclusive") {
  auto r = clean();
  r.pin.clear();
  r.pin_source.clear();
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.tls_unpinned");
  CHECK(f.inconclusive);
  CHECK(json(r)["tls_intercepted"] == false);
}

TEST_CASE("proxy.target_intercepted: a target's chain holds none of the expected issuers") {
  auto r = clean();
  TargetProbe t;
  t.target = "signalling.example.test:443";
  t.via = "direct";
  t.outcome = StepOutcome::ok;
  t.chain = {{"CN=signalling.example.test", "CN=Corp Proxy CA", "Corp Proxy CA", kOtherPin}};
  t.expected_issuer = false;
  r.targets.push_back(t);
  auto j = judge(r, params());
  const auto& f = get(j, "proxy.target_intercepted");
  CHECK(f.message.find("Corp Proxy CA") != std::string::npos);
  CHECK(json(r)["interceptor_issuer"] == "Corp Proxy CA");
  r.targets.back().expected_issuer = true;
  CHECK_FALSE(has(judge(r, params()), "proxy.target_intercepted"));
}

TEST_CASE("proxy.explicit, proxy.auth_required and proxy.connect_refused: the explicit proxy's answers") {
  auto r = clean();
  r.explicit_proxy = "http://192.0.2.8:3128";
  r.proxy_source = "HTTPS_PROXY";
  TargetProbe auth;
  auth.target = "a.example.test:443";
  auth.via = "http://192.0.2.8:3128";
  auth.outcome = StepOutcome::tunnel_failed;
  auth.connect_status = 407;
  auth.auth_scheme = "Basic";
  TargetProbe denied = auth;
  denied.target = "b.example.test:5062";
  denied.connect_status = 403;
  denied.auth_scheme.clear();
  denied.message = "the proxy answered 403 Forbidden";
  r.targets = {auth, denied};
  auto j = judge(r, params());
  CHECK(get(j, "proxy.explicit").message.find("HTTPS_PROXY") != std::string::npos);
  CHECK(get(j, "proxy.auth_required").message.find("Basic") != std::string::npos);
  CHECK(get(j, "proxy.connect_refused").message.find("b.example.test:5062") != std::string::npos);
  CHECK(std::count_if(j.findings.begin(), j.findings.end(),
                      [](const Finding& f) { return f.code == "proxy.auth_required"; }) == 1);
  EchoExchange tunnel;
  tunnel.scheme = "https";
  tunnel.port = 443;
  tunnel.via = auth.via;
  tunnel.outcome = StepOutcome::tunnel_failed;
  tunnel.connect_status = 407;
  tunnel.auth_scheme = "Basic";
  r.exchanges.push_back(tunnel);
  auto both = judge(r, params());
  CHECK_FALSE(has(both, "proxy.tunnel_failed"));  // named by the 407 finding instead
  CHECK(get(both, "proxy.auth_required").message.find("https echo, a.example.test:443") != std::string::npos);
  json d = r;
  CHECK(d["explicit_proxy"] == "http://192.0.2.8:3128");
  CHECK(d["targets"][0]["connect_status"] == 407);
  CHECK(d["targets"][0]["proxy_auth_scheme"] == "Basic");
}

TEST_CASE("proxy.echo_unreachable, proxy.tunnel_failed, proxy.target_unreachable: could not tell, inconclusive") {
  auto r = clean();
  r.exchanges[0].outcome = StepOutcome::no_answer;
  r.exchanges[0].echo.reset();
  r.exchanges[0].operation = Operation::connect;
  r.exchanges[0].message = "connect 203.0.113.10:80: no answer in 4000 ms";
  EchoExchange tunnel;
  tunnel.scheme = "https";
  tunnel.port = 443;
  tunnel.via = "http://192.0.2.8:3128";
  tunnel.outcome = StepOutcome::refused;
  tunnel.operation = Operation::connect;
  tunnel.message = "connection refused";
  r.exchanges.push_back(tunnel);
  TargetProbe t;
  t.target = "c.example.test:443";
  t.via = "direct";
  t.outcome = StepOutcome::no_answer;
  t.operation = Operation::connect;
  t.message = "connect: no answer";
  r.targets.push_back(t);
  auto j = judge(r, params());
  CHECK(get(j, "proxy.echo_unreachable").inconclusive);
  CHECK(get(j, "proxy.echo_unreachable").operation == Operation::connect);
  CHECK(get(j, "proxy.tunnel_failed").inconclusive);
  CHECK(get(j, "proxy.target_unreachable").inconclusive);
  CHECK(j.summary.find("could not be used") != std::string::npos);
}

TEST_CASE("proxy.bad_setting and proxy.pac_found") {
  auto r = clean();
  r.proxy_error = "HTTPS_PROXY: unsupported scheme socks5";
  PacFetch f;
  f.url = "http://wpad.example.test/wpad.dat";
  f.outcome = StepOutcome::ok;
  f.status = 200;
  f.text = "function FindProxyForURL(u,h){return \"PROXY 192.0.2.8:3128\";}";
  f.proxies = {"192.0.2.8:3128"};
  r.pac.push_back(f);
  auto j = judge(r, params());
  CHECK(get(j, "proxy.bad_setting").inconclusive);
  CHECK(get(j, "proxy.pac_found").message.find("192.0.2.8:3128") != std::string::npos);
  json d = r;
  CHECK(d["pac"][0]["text"] == f.text);
}

TEST_CASE("details keep odd bytes printable, and the view draws the exchanges and targets") {
  auto r = clean();
  r.exchanges[0].echo->head = std::string("GET / HTTP/1.1\r\nX: \xff\r\n\r\n");
  json d = r;
  CHECK(d.dump().find("\\\\xff") != std::string::npos);
  auto v = callready::checks::proxy_view(d);
  CHECK(v.blocks.size() == 1);
  auto m = callready::checks::proxy_metrics(d);
  CHECK(m.size() == 3);
}

// --- schedules, in virtual time, against loopback peers -------------------

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

// Accepts one connection and, every `every` (0: never), sends one byte of an
// HTTP answer that never completes.
asio::awaitable<void> trickle(tcp::acceptor& acc, Millis every) {
  tcp::socket s(acc.get_executor());
  auto [ec] = co_await acc.async_accept(s, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  Timer t(acc.get_executor());
  std::string answer = "HTTP/1.1 200 OK\r\nX-Slow: ";
  for (std::size_t i = 0;; ++i) {
    t.expires_after(every.count() ? every : Millis(60000));
    auto [wec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (wec) co_return;
    if (every.count() == 0) continue;
    char c = answer[std::min(i, answer.size() - 1)];
    boost::system::error_code sec;
    asio::write(s, asio::buffer(&c, 1), sec);
    if (sec) co_return;
  }
}

Millis echo_against(Millis every, EchoExchange& e) {
  VirtualTime vt;
  asio::io_context io;
  tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::co_spawn(io, trickle(acc, every), asio::detached);
  Millis finished{-1};
  e.scheme = "http";
  e.sent = echo_request_head("127.0.0.1", "00");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto connecting = connect_within(acc.local_endpoint(), Millis(4000));
        auto c = co_await std::move(connecting);
        REQUIRE(c.socket);
        auto exchanging = echo_exchange(std::move(c.socket), "", e, Millis(4000));
        co_await std::move(exchanging);
        finished = since(vt);
        acc.close();
        io.stop();
      },
      asio::detached);
  run_io(io);
  return finished;
}

}  // namespace

TEST_CASE("schedule: a silent server is given up at the step limit, 4000 ms") {
  EchoExchange e;
  CHECK(echo_against(Millis(0), e) == Millis(4000));
  CHECK(e.outcome == StepOutcome::no_answer);
  CHECK(e.message == "no complete answer in 4000 ms");
}

TEST_CASE("schedule: a server trickling a byte every 500 ms is still given up at 4000 ms") {
  EchoExchange e;
  CHECK(echo_against(Millis(500), e) == Millis(4000));
  CHECK(e.outcome == StepOutcome::no_answer);
}

TEST_CASE("schedule: the echo closes a connection whose head has not come within 10 s, however it trickles") {
  VirtualTime vt;
  asio::io_context io;
  respond::ResponderOptions options;
  options.bind_address = "127.0.0.1";
  respond::SessionLog sessions{nullptr, std::chrono::seconds(30)};
  respond::ServiceHost host{io, options, sessions, nullptr};
  std::unique_ptr<respond::RunningService> service;
  std::uint16_t port = 0;
  for (int attempt = 0; attempt < 20 && !service; ++attempt) {
    port = test::free_port();
    std::string error;
    service = callready::checks::http_echo_service().start(host, {{port, port}}, error);
  }
  REQUIRE(service);
  Millis closed{-1};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::socket s(io);
        co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
        Timer t(io);
        std::string head = "GET / HTTP/1.1\r\nX-Slow: ";
        std::array<char, 64> buf;
        for (std::size_t i = 0; i < 60; ++i) {
          char c = head[std::min(i, head.size() - 1)];
          boost::system::error_code ec;
          asio::write(s, asio::buffer(&c, 1), ec);
          if (ec) break;
          t.expires_after(Millis(1000));
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          s.non_blocking(true);
          auto n = s.read_some(asio::buffer(buf), ec);
          if (ec != asio::error::would_block) {
            CHECK(n == 0);  // closed without an answer
            break;
          }
        }
        closed = since(vt);
        service->stop();
        io.stop();
      },
      asio::detached);
  run_io(io);
  CHECK(closed == Millis(10000));
}
