// The proxy check against the real responder (`callready respond
// --http-ports --https-ports`) on loopback: nothing reported on a clean path,
// the pin learned over the control channel, a wrong pin named as
// interception, the set-up error of a responder without the TLS echo, an
// unreachable explicit proxy, a PAC file from a real web server, and the
// echo's bounds (oversized heads, per-source connection cap) from a raw client.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Run {
  CheckOutcome outcome;
  std::vector<std::string> codes;
};

Run run_check(const json& params, std::uint16_t control_port) {
  asio::io_context io;
  const CheckKind* kind = find_check_kind("proxy");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  net::ResponderLink link(io.get_executor(), control_port, "");
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + std::chrono::seconds(20), settings, link, nullptr};
  std::optional<CheckOutcome> result;
  asio::co_spawn(io, kind->run(params, ctx), [&](std::exception_ptr e, CheckOutcome o) {
    REQUIRE_FALSE(e);
    result = std::move(o);
  });
  io.run_for(std::chrono::seconds(25));  // a bound, not a claim: the check's own deadline is 20 s
  REQUIRE(result);
  Run r{std::move(*result), {}};
  for (const auto& f : r.outcome.findings) r.codes.push_back(f.code);
  return r;
}

struct EchoResponder {
  test::Responder responder;
  unsigned short http = 0, https = 0;
};

EchoResponder start_echo(const test::TempDir& dir, bool with_tls = true) {
  EchoResponder e;
  e.http = test::free_port();
  e.https = test::free_port();
  std::vector<std::string> extra = {"--http-ports", std::to_string(e.http)};
  if (with_tls) extra.insert(extra.end(), {"--https-ports", std::to_string(e.https)});
  e.responder = test::start_responder(dir, 1, extra);
  return e;
}

json params_for(const EchoResponder& e) {
  return {{"host", "127.0.0.1"}, {"http_port", e.http}, {"https_port", e.https}, {"proxy", "direct"}};
}

// Sends `bytes` on a fresh connection and reads until the echo closes it.
std::string send_raw(unsigned short port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(bytes));
  std::string out;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  return out;
}

}  // namespace

TEST_CASE("no proxy on loopback: nothing reported, the pin learned over the control channel") {
  test::TempDir dir;
  auto e = start_echo(dir);
  auto run = run_check(params_for(e), e.responder.control);
  INFO(run.outcome.details.dump(1));
  CHECK_FALSE(run.outcome.error);
  CHECK(run.codes.empty());
  const auto& d = run.outcome.details;
  CHECK(d["transparent_proxy"] == false);
  CHECK(d["tls_intercepted"] == false);
  CHECK(d["pin_source"] == "control");
  CHECK(d["echo_source"] == "127.0.0.1");
  REQUIRE(d["exchanges"].size() == 2);
  for (const auto& x : d["exchanges"]) {
    CHECK(x["outcome"] == "ok");
    CHECK(x["sent"] == x["received"]);
  }
  CHECK(d["exchanges"][1]["chain"][0]["issuer"] == "CN=callready HTTPS echo");
  CHECK(d["pin_sha256"] == d["exchanges"][1]["chain"][0]["spki_sha256"]);
  CHECK(e.responder.process->log().find("key pin_sha256 " + d["pin_sha256"].get<std::string>()) != std::string::npos);
}

TEST_CASE("a pin_sha256 that is not the echo's key: TLS interception, the certificate's issuer named") {
  test::TempDir dir;
  auto e = start_echo(dir);
  auto p = params_for(e);
  p["pin_sha256"] = "sha256/" + std::string(43, 'A') + "=";
  auto run = run_check(p, e.responder.control);
  CHECK(run.codes == std::vector<std::string>{"proxy.tls_intercepted"});
  CHECK(run.outcome.details["interceptor_issuer"] == "callready HTTPS echo");
  CHECK(run.outcome.details["pin_source"] == "params");
}

TEST_CASE("a responder without the HTTPS echo: a set-up error, never a proxy finding") {
  test::TempDir dir;
  auto e = start_echo(dir, false);
  auto run = run_check(params_for(e), e.responder.control);
  REQUIRE(run.outcome.error);
  CHECK(run.outcome.error->reason == ErrorReason::setup);
  CHECK(run.codes.empty());
}

TEST_CASE("an explicit proxy that does not answer: the tunnel and the target could not be tested, inconclusive") {
  test::TempDir dir;
  auto e = start_echo(dir);
  auto p = params_for(e);
  p["proxy"] = "http://127.0.0.1:" + std::to_string(test::free_port());
  p["targets"] = {"127.0.0.1:" + std::to_string(e.https)};
  auto run = run_check(p, e.responder.control);
  INFO(run.outcome.details.dump(1));
  CHECK(run.outcome.details["explicit_proxy"].get<std::string>().starts_with("http://127.0.0.1:"));
  for (const auto* code : {"proxy.tunnel_failed", "proxy.target_unreachable", "proxy.explicit"})
    CHECK(std::find(run.codes.begin(), run.codes.end(), code) != run.codes.end());
  for (const auto& f : run.outcome.findings)
    if (f.code != "proxy.explicit") CHECK(f.inconclusive);
  CHECK(run.outcome.details["targets"][0]["outcome"] == "refused");
}

TEST_CASE("a PAC file from a real web server: fetched, its PROXY directives read, never run") {
  if (!test::have_program("python3")) {
    MESSAGE("SKIPPED: python3 missing");
    return;
  }
  test::TempDir dir;
  dir.write("wpad.dat", "function FindProxyForURL(url, host) { return \"PROXY 192.0.2.8:3128; DIRECT\"; }\n");
  auto port = test::free_port();
  test::ChildProcess web(
      {"python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir.path(), std::to_string(port)},
      dir.file("web.log"));
  REQUIRE(test::wait_for_tcp("127.0.0.1", port, std::chrono::seconds(10)));
  auto e = start_echo(dir);
  auto p = params_for(e);
  p["pac_url"] = "http://127.0.0.1:" + std::to_string(port) + "/wpad.dat";
  auto run = run_check(p, e.responder.control);
  INFO(run.outcome.details.dump(1));
  CHECK(run.codes == std::vector<std::string>{"proxy.pac_found"});
  const auto& pac = run.outcome.details["pac"];
  REQUIRE(pac.size() == 1);
  CHECK(pac[0]["proxies"] == json{"192.0.2.8:3128"});
  CHECK(pac[0]["text"].get<std::string>().starts_with("function FindProxyForURL"));
}

TEST_CASE("the echo's bounds: 431 for an oversized head, 400 for garbage, a per-source connection cap") {
  test::TempDir dir;
  auto e = start_echo(dir);
  std::string big = "GET / HTTP/1.1\r\n";
  while (big.size() < 20000) big += "X-Pad: 0123456789abcdef0123456789abcdef\r\n";
  auto answer = send_raw(e.http, big + "\r\n");
  CHECK(answer.starts_with("HTTP/1.1 431 "));
  CHECK(answer.size() < 1024);
  CHECK(send_raw(e.http, "\x16\x03\x01 not http\r\n\r\n").starts_with("HTTP/1.1 400 "));
  // 16 idle connections from 127.0.0.1 are held; the 17th is closed unanswered.
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<tcp::socket>(io));
    held.back()->connect({asio::ip::make_address("127.0.0.1"), e.http});
    asio::write(*held.back(), asio::buffer(std::string("GET / HTTP/1.1\r\n")));
  }
  auto over = send_raw(e.http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(over.empty());
  held.clear();
  auto ok = test::wait_until(
      [&] { return send_raw(e.http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 200"); },
      std::chrono::seconds(5));
  CHECK(ok);
}
