// `callready respond` as a process on loopback, probed with the shared echo
// client: replies and their observations, authentication, no amplification,
// ICMP for closed ports, the control protocol, TCP accept, rate limit,
// session logging and clean shutdown.
#include <doctest/doctest.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sstream>

#include "checks/common/echo_client.hpp"
#include "probe/net/responder_control.hpp"
#include "tests/integration/responder_support.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;
namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;

namespace {

udp::endpoint loopback(unsigned short port) { return {asio::ip::make_address("127.0.0.1"), port}; }

checks::EchoExchange probe(unsigned short port, std::string token, std::size_t size = 200, bool minimal = false,
                           int tos = -1, std::chrono::milliseconds timeout = 1000ms) {
  asio::io_context io;
  checks::echo::Request req;
  RAND_bytes(reinterpret_cast<unsigned char*>(&req.session), sizeof req.session);
  req.sequence = 7;
  req.size = size;
  req.minimal_reply = minimal;
  checks::EchoSocketOptions opts;
  opts.token = std::move(token);
  opts.tos = tos;
  return run_io(io, checks::echo_once(io.get_executor(), loopback(port), opts, req, timeout));
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the responder echoes authenticated probes with what it observed") {
  TempDir dir;
  auto r = start_responder(dir, 10, {"--token", "s3cret", "--tcp-ports", std::to_string(free_port())});

  auto ok = probe(r.udp_first + 9, "s3cret", 300);
  REQUIRE(ok.event);
  REQUIRE(ok.event->kind == checks::EchoEvent::Kind::reply);
  const auto& reply = ok.event->reply;
  CHECK(reply.sequence == 7);
  CHECK(reply.keyed);
  CHECK(reply.size == 300);  // full reply: exactly the request's size
  CHECK(reply.seen.request_size == 300);
  CHECK(reply.seen.source.address().to_string() == "127.0.0.1");
  CHECK(reply.seen.source.port() != 0);
  CHECK(reply.seen.received_us >= reply.sent_us - 1'000'000);  // same host, same clock
  CHECK(ok.rtt.count() > 0);

  SUBCASE("a minimal reply stays small whatever the request's size") {
    auto big = probe(r.udp_first, "s3cret", 1400, true);
    REQUIRE(big.event);
    CHECK(big.event->reply.size == checks::echo::kMinDatagram);
    CHECK(big.event->reply.seen.request_size == 1400);
  }
  SUBCASE("the TOS byte received is reported") {
    auto marked = probe(r.udp_first + 1, "s3cret", 200, false, 0xb8);
    REQUIRE(marked.event);
    CHECK(marked.event->reply.seen.tos == 0xb8);
  }
  SUBCASE("without the right token the responder stays silent") {
    CHECK_FALSE(probe(r.udp_first, "wrong", 200, false, -1, 300ms).event);
    CHECK_FALSE(probe(r.udp_first, "", 200, false, -1, 300ms).event);
  }
  SUBCASE("a port it does not serve answers ICMP port unreachable, seen by the client") {
    auto closed = probe(r.udp_first + 10, "s3cret");
    REQUIRE(closed.event);
    REQUIRE(closed.event->kind == checks::EchoEvent::Kind::icmp);
    CHECK(closed.event->icmp.port_unreachable());
    CHECK(closed.event->icmp.destination.port() == r.udp_first + 10);
    REQUIRE(closed.event->icmp.offender);
    CHECK(closed.event->icmp.offender->to_string() == "127.0.0.1");
  }
  CHECK(r.process->stop() == 0);
}

TEST_CASE("the control port tells served ports and checks the token") {
  TempDir dir;
  unsigned short tcp_port = free_port();
  auto r = start_responder(dir, 3, {"--token", "s3cret", "--tcp-ports", std::to_string(tcp_port)});
  asio::io_context io;
  asio::ip::tcp::endpoint control(asio::ip::make_address("127.0.0.1"), r.control);
  auto info = run_io(io, net::query_responder(io.get_executor(), control, "s3cret", 2000ms));
  REQUIRE_MESSAGE(info.ok(), info.error);
  CHECK(info.token_required);
  CHECK(info.ports("udp_echo") == std::vector<std::uint16_t>{r.udp_first, static_cast<std::uint16_t>(r.udp_first + 1),
                                                             static_cast<std::uint16_t>(r.udp_first + 2)});
  CHECK(info.ports("tcp_accept") == std::vector<std::uint16_t>{tcp_port});
  CHECK(info.serves("udp_echo", r.udp_first + 2));
  CHECK_FALSE(info.serves("udp_echo", r.udp_first + 3));
  CHECK(info.observed.address().to_string() == "127.0.0.1");
  // The greeting names each service with its ports, merged into ranges.
  CHECK(info.raw["services"]["udp_echo"] ==
        json::array({std::to_string(r.udp_first) + "-" + std::to_string(r.udp_first + 2)}));
  CHECK(info.raw["services"]["tcp_accept"] == json::array({std::to_string(tcp_port)}));
  CHECK_FALSE(info.raw.contains("udp_ports"));

  auto bad = run_io(io, net::query_responder(io.get_executor(), control, "guess", 2000ms));
  CHECK(bad.failure == net::ResponderInfo::Failure::unauthorized);

  // TCP reachability ports accept, then close at once.
  asio::ip::tcp::socket s(io);
  asio::ip::tcp::endpoint tcp_ep(asio::ip::make_address("127.0.0.1"), tcp_port);
  boost::system::error_code ec;
  s.connect(tcp_ep, ec);
  CHECK_FALSE(ec);
  char byte;
  s.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);

  auto nobody = run_io(
      io, net::query_responder(io.get_executor(), asio::ip::tcp::endpoint(control.address(), free_port()), "", 1000ms));
  CHECK(nobody.failure == net::ResponderInfo::Failure::connect);

  // What a cooperative check makes of these answers: set-up errors, never findings.
  CHECK_FALSE(net::setup_error(info, "udp_echo", r.udp_first));
  for (const auto& e : {net::setup_error(info, "udp_echo", r.udp_first + 3), net::setup_error(info, "stun"),
                        net::setup_error(bad, "udp_echo"), net::setup_error(nobody, "udp_echo")}) {
    REQUIRE(e);
    CHECK(e->reason == ErrorReason::setup);
    CHECK(e->operation == Operation::control);
  }
  CHECK(r.process->stop() == 0);
}

TEST_CASE("per-source rate limit, one log line per session, clean SIGTERM") {
  TempDir dir;
  auto r = start_responder(dir, 4, {"--max-pps", "50", "--log-level", "info"});
  asio::io_context io;
  checks::EchoSocket socket(io.get_executor());
  checks::EchoSocketOptions opts;
  REQUIRE_FALSE(socket.open(udp::v4(), opts));
  checks::echo::Request req;
  req.session = 0x00c0ffee00c0ffeeULL;
  for (std::uint32_t i = 0; i < 400; ++i) {  // a burst far above 50 pps, within ~0.1 s
    req.sequence = i;
    CHECK_FALSE(socket.send(loopback(r.udp_first + i % 4), req));
  }
  int replies = run_io(io, [&]() -> asio::awaitable<int> {
    int n = 0;
    auto deadline = Clock::now() + 500ms;
    while (auto ev = co_await socket.receive(deadline))
      if (ev->kind == checks::EchoEvent::Kind::reply) ++n;
    co_return n;
  }());
  // The bucket holds one second's worth (50) plus what refills during the burst.
  CHECK(replies >= 45);
  CHECK(replies <= 70);

  CHECK(r.process->stop() == 0);
  std::string log = read_file(r.log_file);
  INFO(log);
  CHECK(count(log, "session 00c0ffee00c0ffee") == 1);
  CHECK(count(log, "answered") >= 1);
  CHECK(log.find(std::to_string(replies) + " answered, " + std::to_string(400 - replies) + " rate-limited") !=
        std::string::npos);
  CHECK(log.find("shutting down on SIGTERM") != std::string::npos);
}

TEST_CASE("1,200 UDP ports bind under a 256 open-files soft limit") {
  TempDir dir;
  auto r = start_responder(dir, 1200, {}, "ulimit -S -n 256; exec");
  auto last = probe(r.udp_first + 1199, "");
  REQUIRE(last.event);
  CHECK(last.event->kind == checks::EchoEvent::Kind::reply);
  auto first = probe(r.udp_first, "");
  REQUIRE(first.event);
  CHECK(first.event->kind == checks::EchoEvent::Kind::reply);
  CHECK(r.process->stop() == 0);
  CHECK(read_file(r.log_file).find("1200 udp_echo ports") != std::string::npos);
}

TEST_CASE("it runs unprivileged when its ports are >= 1024") {
  if (::geteuid() != 0 || !have_program("setpriv"))  // already unprivileged: every other case shows it
    CALLREADY_SKIP("needs root and setpriv to drop privileges");
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);
  auto r = start_responder(dir, 20, {"--tcp-ports", std::to_string(free_port())},
                           "exec setpriv --reuid=65534 --regid=65534 --clear-groups");
  auto reply = probe(r.udp_first + 19, "");
  REQUIRE(reply.event);
  CHECK(reply.event->kind == checks::EchoEvent::Kind::reply);
  CHECK(r.process->stop() == 0);
}
