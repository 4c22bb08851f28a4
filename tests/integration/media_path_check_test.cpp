// The media_path check on loopback against a real `callready respond`
// (--udp-ports, --tcp-ports, --tls-ports): every rung served is UDP; rungs the
// test takes away (a control port that claims ports nothing serves) make the
// ladder fall to TCP, to TLS, or to nothing, each with its reason; a
// responder without the TLS service is a set-up error; the TLS service
// itself answers framed probes without SNI and closes on garbage.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl.hpp>

#include "checks/common/framed_echo.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
using namespace callready::checks;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

CheckOutcome run_media_path(const json& params, unsigned short control) {
  const CheckKind* kind = find_check_kind("media_path");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, "");
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 30s, settings, link, nullptr};
  return test::run_io(io, kind->run(params, ctx));
}

struct Responder {
  unsigned short control = 0, udp = 0, tcp = 0, tls = 0;
  std::unique_ptr<test::ChildProcess> process;
};

Responder start(const test::TempDir& dir, bool with_tls = true) {
  Responder r;
  r.control = test::free_port();
  r.udp = test::free_port(true);
  r.tcp = test::free_port();
  r.tls = test::free_port();
  std::vector<std::string> argv = {CALLREADY_BINARY, "respond",
                                   "--listen",       "127.0.0.1:" + std::to_string(r.control),
                                   "--bind",         "127.0.0.1",
                                   "--udp-ports",    std::to_string(r.udp),
                                   "--tcp-ports",    std::to_string(r.tcp)};
  if (with_tls) argv.insert(argv.end(), {"--tls-ports", std::to_string(r.tls)});
  r.process = std::make_unique<test::ChildProcess>(argv, dir.file("media-path-responder-" + std::to_string(r.control)));
  if (!test::wait_for_tcp("127.0.0.1", r.control, 10s)) {
    INFO(r.process->log());
    FAIL("the responder did not open its control port");
  }
  return r;
}

json params(unsigned short udp, unsigned short tcp, unsigned short tls, std::optional<unsigned short> control = {}) {
  // "direct": an HTTPS_PROXY of the machine running the tests must not add a rung.
  json p = {{"host", "127.0.0.1"}, {"udp_ports", {udp}}, {"tcp_port", tcp}, {"tls_port", tls}, {"proxy", "direct"}};
  if (control) p["control_port"] = *control;
  return p;
}

json claims(unsigned short udp, unsigned short tcp, unsigned short tls) {
  return json{
      {"udp_echo", {std::to_string(udp)}}, {"tcp_accept", {std::to_string(tcp)}}, {"tls_echo", {std::to_string(tls)}}};
}

std::vector<std::string> results(const CheckOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.details["attempts"])
    out.push_back(a["transport"].get<std::string>() + ":" + a["result"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("every rung served: UDP is the path, the ladder stops there") {
  test::TempDir dir;
  auto r = start(dir);
  auto o = run_media_path(params(r.udp, r.tcp, r.tls), r.control);
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.findings.empty());
  CHECK(o.details["path"] == "udp");
  CHECK(results(o) == std::vector<std::string>{"udp:ok"});
  CHECK(o.details["attempts"][0]["rtt_ms"].is_number());
}

TEST_CASE("UDP port unreachable: TCP is the path, UDP's reason named") {
  test::TempDir dir;
  auto r = start(dir);
  auto closed_udp = test::free_port(true);  // nothing bound: ICMP port unreachable
  test::FakeControl control(claims(closed_udp, r.tcp, r.tls));
  auto start_time = std::chrono::steady_clock::now();
  auto o = run_media_path(params(closed_udp, r.tcp, r.tls, control.port()), control.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.details["path"] == "tcp");
  CHECK(results(o) == std::vector<std::string>{"udp:unreachable", "tcp:ok"});
  REQUIRE(o.findings.size() == 1);
  CHECK(o.findings[0].code == "media_path.tcp_fallback");
  CHECK(o.findings[0].message.find("ICMP port unreachable") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start_time < 2s);  // ICMP ends the UDP wait at once
}

TEST_CASE("UDP silent and TCP refused: TLS without SNI is the path") {
  test::TempDir dir;
  auto r = start(dir);
  asio::io_context io;
  asio::ip::udp::socket silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // bound, never answers
  auto silent_port = silent.local_endpoint().port();
  auto closed_tcp = test::free_port();
  test::FakeControl control(claims(silent_port, closed_tcp, r.tls));
  auto o = run_media_path(params(silent_port, closed_tcp, r.tls, control.port()), control.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.details["path"] == "tls");
  CHECK(results(o) == std::vector<std::string>{"udp:timeout", "tcp:refused", "tls:ok"});
  REQUIRE(o.findings.size() == 1);
  CHECK(o.findings[0].code == "media_path.tls_fallback");
  CHECK(o.details["attempts"][1]["operation"] == "connect");
}

TEST_CASE("nothing answers: no_path, critical, every attempt with its reason") {
  test::TempDir dir;
  auto closed_udp = test::free_port(true);
  auto closed_tcp = test::free_port();
  auto closed_tls = test::free_port();
  test::FakeControl control(claims(closed_udp, closed_tcp, closed_tls));
  auto o = run_media_path(params(closed_udp, closed_tcp, closed_tls, control.port()), control.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.details["path"].is_null());
  CHECK(results(o) == std::vector<std::string>{"udp:unreachable", "tcp:refused", "tls:refused"});
  REQUIRE(o.findings.size() == 1);
  CHECK(o.findings[0].code == "media_path.no_path");
  CHECK(o.findings[0].severity == Severity::critical);
}

TEST_CASE("TLS port is a plain TCP service: the handshake fails within the wait") {
  test::TempDir dir;
  auto r = start(dir);
  auto closed_tcp = test::free_port();
  auto closed_udp = test::free_port(true);
  // The TLS rung meets the TCP echo (it reads the ClientHello as a frame and waits for the rest).
  test::FakeControl control(claims(closed_udp, closed_tcp, r.tcp));
  auto o = run_media_path(params(closed_udp, closed_tcp, r.tcp, control.port()), control.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  REQUIRE(o.details["attempts"].size() == 3);
  auto tls = o.details["attempts"][2];
  CHECK(tls["operation"] == "handshake");
  CHECK((tls["result"] == "timeout" || tls["result"] == "reset" || tls["result"] == "handshake_failed"));
  CHECK(o.findings[0].code == "media_path.no_path");
}

TEST_CASE("a responder without --tls-ports: a set-up error, not a finding") {
  test::TempDir dir;
  auto r = start(dir, false);
  auto o = run_media_path(params(r.udp, r.tcp, r.tls), r.control);
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
  CHECK(o.error->message.find("tls_echo") != std::string::npos);
  CHECK(o.findings.empty());
}

TEST_CASE("the TLS service: framed echo inside TLS with no SNI, closed on a bad frame") {
  test::TempDir dir;
  auto r = start(dir);
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_none);
  auto connect = [&] {
    auto s = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io, tls);
    s->next_layer().connect({asio::ip::make_address("127.0.0.1"), r.tls});
    s->handshake(asio::ssl::stream_base::client);  // no SNI set
    return s;
  };
  auto s = connect();
  echo::Request request;
  request.session = 42;
  request.size = 300;
  asio::write(*s, asio::buffer(framed::framed_request(request, "")));
  std::vector<std::uint8_t> buffer;
  auto f = test::run_io(io, framed::read_frame(*s, buffer));
  REQUIRE(f.ok());
  echo::Reply reply;
  REQUIRE(echo::decode_reply({buffer.data(), f.length}, "", reply) == echo::DecodeError::none);
  CHECK(reply.session == 42);
  CHECK(reply.size == 300);
  CHECK(reply.marks.tcp == false);  // a v1 request carries no marks
  CHECK(reply.seen.source.port() == s->next_layer().local_endpoint().port());
  // A frame shorter than an echo datagram closes the connection.
  auto bad = connect();
  std::vector<std::uint8_t> short_frame = {0x00, 0x04, 1, 2, 3, 4};
  asio::write(*bad, asio::buffer(short_frame));
  auto closed = test::run_io(io, framed::read_frame(*bad, buffer));
  CHECK_FALSE(closed.ok());
}

TEST_CASE("UDP over STUN where the responder serves STUN, not the echo, on a media port") {
  test::TempDir dir;
  auto control = test::free_port();
  auto stun_port = test::free_port(true);
  auto tcp = test::free_port();
  auto tls = test::free_port();
  test::ChildProcess responder({CALLREADY_BINARY, "respond", "--listen", "127.0.0.1:" + std::to_string(control),
                                "--bind", "127.0.0.1", "--stun-ports", std::to_string(stun_port), "--tcp-ports",
                                std::to_string(tcp), "--tls-ports", std::to_string(tls), "--token", "s3cret"},
                               dir.file("media-path-stun-responder"));
  REQUIRE(test::wait_for_tcp("127.0.0.1", control, 10s));
  const CheckKind* kind = find_check_kind("media_path");
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = "s3cret";
  net::ResponderLink link(io.get_executor(), control, "s3cret");
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 30s, settings, link, nullptr};
  auto o = test::run_io(io, kind->run(params(stun_port, tcp, tls), ctx));
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.findings.empty());
  CHECK(o.details["path"] == "udp");
  CHECK(o.details["attempts"][0]["probe"] == "stun");
  CHECK(o.details["attempts"][0]["result"] == "ok");
}

TEST_CASE("TLS port served by another TLS service (--https-ports): the completed handshake answers") {
  test::TempDir dir;
  auto control = test::free_port();
  auto https = test::free_port();
  test::ChildProcess responder({CALLREADY_BINARY, "respond", "--listen", "127.0.0.1:" + std::to_string(control),
                                "--bind", "127.0.0.1", "--https-ports", std::to_string(https)},
                               dir.file("media-path-https-responder"));
  REQUIRE(test::wait_for_tcp("127.0.0.1", control, 10s));
  auto closed_udp = test::free_port(true);
  auto closed_tcp = test::free_port();
  test::FakeControl fake(json{{"udp_echo", {std::to_string(closed_udp)}},
                              {"tcp_accept", {std::to_string(closed_tcp)}},
                              {"https_echo", {std::to_string(https)}}});
  auto o = run_media_path(params(closed_udp, closed_tcp, https, fake.port()), fake.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(o.details["path"] == "tls");
  CHECK(results(o) == std::vector<std::string>{"udp:unreachable", "tcp:refused", "tls:ok"});
  CHECK(o.details["attempts"][2]["probe"] == "handshake");
}
