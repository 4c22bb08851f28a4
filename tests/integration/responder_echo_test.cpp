// `callready respond` as a process on loopback, probed with the shared echo
// client: replies and their observations, authentication, no amplification,
// ICMP for closed ports, the control protocol, TCP accept, rate limit,
// session logging and clean shutdown; echo v2 (reply_tos, reply_delay_ms)
// over UDP and RFC 4571-framed over TCP, IPv4 and IPv6; with a token, keyed
// UDP probes answered only from an address whose control hello opened its
// session, within the session's lifetime (127.0.0.2 plays the other source).
#include <doctest/doctest.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sstream>

#include "checks/common/echo_client.hpp"
#include "checks/common/udp_echo_service.hpp"
#include "checks/tcp/tcp_accept_service.hpp"
#include "probe/net/host_port.hpp"
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

// Says hello on the control port at `control_host` from `source` (an address
// of this host; "" lets the kernel pick), proving `token`, and returns the
// answer: what a scan's first cooperative check does, which opens the echo
// session of the source address. `extra` goes into the hello.
json open_session(const std::string& control_host, unsigned short control, const std::string& token,
                  const std::string& source = "", json extra = json::object()) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  asio::ip::tcp::endpoint to(asio::ip::make_address(control_host), control);
  s.open(to.protocol());
  if (!source.empty()) s.bind({asio::ip::make_address(source), 0});
  s.connect(to);
  asio::streambuf buf;
  asio::read_until(s, buf, '\n');
  std::istream in(&buf);
  std::string line;
  std::getline(in, line);
  json hello = extra;
  hello["op"] = "hello";
  hello["proof"] = net::control_proof(token, json::parse(line).value("nonce", ""));
  asio::write(s, asio::buffer(hello.dump() + "\n"));
  asio::read_until(s, buf, '\n');
  std::getline(in, line);
  return json::parse(line);
}

// Sends `bytes` from `source` (an address of this host) to `to` and says
// whether anything came back within `wait`: a captured probe, replayed as is.
bool answered_from(const std::string& source, const udp::endpoint& to, const std::vector<std::uint8_t>& bytes,
                   std::chrono::milliseconds wait = 300ms) {
  asio::io_context io;
  udp::socket s(io, udp::endpoint(asio::ip::make_address(source), 0));
  s.send_to(asio::buffer(bytes), to);
  pollfd readable{s.native_handle(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(wait.count())) != 1) return false;
  std::uint8_t reply[2048];
  return ::recv(s.native_handle(), reply, sizeof reply, MSG_DONTWAIT) > 0;
}

bool answered_from(const std::string& source, unsigned short port, const std::vector<std::uint8_t>& bytes,
                   std::chrono::milliseconds wait = 300ms) {
  return answered_from(source, loopback(port), bytes, wait);
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
  REQUIRE(open_session("127.0.0.1", r.control, "s3cret").value("ok", false));

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

  // TCP reachability ports accept a plain connect (and wait for echo frames).
  asio::ip::tcp::socket s(io);
  asio::ip::tcp::endpoint tcp_ep(asio::ip::make_address("127.0.0.1"), tcp_port);
  boost::system::error_code ec;
  s.connect(tcp_ep, ec);
  CHECK_FALSE(ec);
  s.close(ec);

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

// ---- echo v2 ----

namespace {

// The responder bound to `bind` ("127.0.0.1" or "::1") with `udp_count` echo
// ports and one TCP port.
struct V2Responder {
  std::string bind;
  unsigned short control = 0, udp_first = 0, tcp_port = 0;
  std::unique_ptr<ChildProcess> process;
  std::string log_file;
};

V2Responder start_v2(const TempDir& dir, const std::string& bind, std::vector<std::string> extra = {}) {
  V2Responder r;
  r.bind = bind;
  r.control = free_port();
  r.udp_first = free_udp_block(2);
  r.tcp_port = free_port();
  r.log_file = dir.file("responder-v2-" + std::to_string(r.control) + ".log");
  std::vector<std::string> argv = {
      CALLREADY_BINARY, "respond",
      "--listen",       net::format_host_port(asio::ip::make_address(bind), r.control),
      "--bind",         bind,
      "--udp-ports",    std::to_string(r.udp_first) + "-" + std::to_string(r.udp_first + 1),
      "--tcp-ports",    std::to_string(r.tcp_port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  r.process = std::make_unique<ChildProcess>(argv, r.log_file);
  if (!wait_for_tcp(bind, r.control, std::chrono::seconds(10))) {
    INFO("responder log: " << r.process->log());
    FAIL("the responder did not open its control port");
  }
  return r;
}

checks::echo::Request fresh_request(std::uint32_t sequence) {
  checks::echo::Request req;
  RAND_bytes(reinterpret_cast<unsigned char*>(&req.session), sizeof req.session);
  req.sequence = sequence;
  req.size = 160;
  return req;
}

checks::EchoExchange probe_v2(const udp::endpoint& to, const std::string& token, checks::echo::Request req, int tos,
                              std::chrono::milliseconds timeout) {
  asio::io_context io;
  checks::EchoSocketOptions opts;
  opts.token = token;
  opts.tos = tos;
  return run_io(io, checks::echo_once(io.get_executor(), to, opts, req, timeout));
}

// One TCP echo session: connect with `tos`, send `requests`, collect the replies.
struct StreamRun {
  checks::EchoStream::ConnectResult connect;
  std::vector<checks::EchoStreamReply> replies;
  std::vector<std::chrono::milliseconds> waited;  // from the send to each reply
  boost::system::error_code end;
};

// With `one_at_a_time` each request waits for the previous reply: the TOS read
// for a reply is that of the latest segment, so per-reply marking needs it.
StreamRun stream_v2(const asio::ip::tcp::endpoint& to, const std::string& token,
                    std::vector<checks::echo::Request> requests, int tos, std::chrono::milliseconds timeout,
                    bool one_at_a_time = false) {
  asio::io_context io;
  return run_io(io, [&]() -> asio::awaitable<StreamRun> {
    StreamRun run;
    checks::EchoStream stream(io.get_executor());
    checks::EchoStreamOptions opts;
    opts.token = token;
    opts.tos = tos;
    opts.read_tos = true;
    auto target = to;
    run.connect = co_await stream.connect(target, opts, 2000ms);
    if (!run.connect.ok()) co_return run;
    auto started = Clock::now();
    auto deadline = started + timeout;
    if (one_at_a_time) {
      for (const auto& r : requests) {
        auto one = r;
        if (auto ec = co_await stream.send(one)) {
          run.end = ec;
          co_return run;
        }
        auto reply = co_await stream.receive(deadline);
        if (!reply) break;
        run.waited.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(reply->at - started));
        run.replies.push_back(std::move(*reply));
      }
      run.end = stream.last_error();
      co_return run;
    }
    for (const auto& r : requests) {
      auto one = r;
      if (auto ec = co_await stream.send(one)) {
        run.end = ec;
        co_return run;
      }
    }
    while (run.replies.size() < requests.size()) {
      auto reply = co_await stream.receive(deadline);
      if (!reply) break;
      run.waited.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(reply->at - started));
      run.replies.push_back(std::move(*reply));
    }
    run.end = stream.last_error();
    co_return run;
  }());
}

}  // namespace

TEST_CASE("echo v2 over UDP: the reply is marked as asked, IPv4 and IPv6") {
  TempDir dir;
  for (std::string bind : {"127.0.0.1", "::1"}) {
    CAPTURE(bind);
    auto r = start_v2(dir, bind, {"--token", "s3cret"});
    REQUIRE(open_session(bind, r.control, "s3cret").value("ok", false));  // over the probes' family
    udp::endpoint to(asio::ip::make_address(bind), r.udp_first);
    for (int reply_tos : {0xb8, 0x88, 0x60, 0x00}) {
      CAPTURE(reply_tos);
      auto req = fresh_request(3);
      req.reply_tos = static_cast<std::uint8_t>(reply_tos);
      auto ex = probe_v2(to, "s3cret", req, 0x68, 1000ms);
      REQUIRE(ex.event);
      REQUIRE(ex.event->kind == checks::EchoEvent::Kind::reply);
      const auto& reply = ex.event->reply;
      CHECK(reply.version == checks::echo::kVersion2);
      CHECK(reply.seen.tos == 0x68);      // upstream: what we sent with
      CHECK(ex.event->tos == reply_tos);  // downstream: what the reply arrived with
      REQUIRE(reply.marks.reply_tos);
      CHECK(*reply.marks.reply_tos == reply_tos);
      CHECK_FALSE(reply.marks.delayed);
      CHECK_FALSE(reply.marks.tcp);
      CHECK(reply.size == 160);
    }
    // A v1 request to the same port is still answered, unmarked, in v1.
    auto v1 = probe_v2(to, "s3cret", fresh_request(4), -1, 1000ms);
    REQUIRE(v1.event);
    CHECK(v1.event->reply.version == 1);
    CHECK(v1.event->tos == 0);
    CHECK(r.process->stop() == 0);
  }
}

TEST_CASE("echo v2 over UDP: a deferred reply comes once, after the delay, to the same source") {
  TempDir dir;
  auto r = start_v2(dir, "127.0.0.1", {"--token", "s3cret"});
  REQUIRE(open_session("127.0.0.1", r.control, "s3cret").value("ok", false));
  asio::io_context io;
  checks::EchoSocket socket(io.get_executor());
  checks::EchoSocketOptions opts;
  opts.token = "s3cret";
  REQUIRE_FALSE(socket.open(udp::v4(), opts));
  udp::endpoint to(asio::ip::make_address("127.0.0.1"), r.udp_first + 1);
  auto deferred = fresh_request(1);
  deferred.reply_delay_ms = 600;
  auto at_once = fresh_request(2);
  at_once.session = deferred.session;
  auto sent_at = Clock::now();
  REQUIRE_FALSE(socket.send(to, deferred));
  REQUIRE_FALSE(socket.send(to, at_once));
  std::vector<std::pair<std::uint32_t, std::chrono::milliseconds>> got;
  std::vector<bool> delayed_flags;
  run_io(io, [&]() -> asio::awaitable<void> {
    auto deadline = sent_at + 1500ms;  // long enough to see a duplicate if there were one
    while (auto ev = co_await socket.receive(deadline)) {
      if (ev->kind != checks::EchoEvent::Kind::reply) continue;
      got.emplace_back(ev->reply.sequence, std::chrono::duration_cast<std::chrono::milliseconds>(ev->at - sent_at));
      delayed_flags.push_back(ev->reply.marks.delayed);
    }
  }());
  REQUIRE(got.size() == 2);  // one reply per request
  CHECK(got[0].first == 2);  // the undelayed one first
  CHECK(got[0].second < 300ms);
  CHECK_FALSE(delayed_flags[0]);
  CHECK(got[1].first == 1);
  CHECK(got[1].second >= 600ms);
  CHECK(got[1].second < 1200ms);
  CHECK(delayed_flags[1]);
  CHECK(r.process->stop() == 0);
  CHECK(read_file(r.log_file).find("1 deferred") != std::string::npos);
}

TEST_CASE("echo v2 over UDP: past the per-source bound, deferrals are refused and answered at once") {
  TempDir dir;
  auto r = start_v2(dir, "127.0.0.1");
  asio::io_context io;
  checks::EchoSocket socket(io.get_executor());
  REQUIRE_FALSE(socket.open(udp::v4(), {}));
  udp::endpoint to(asio::ip::make_address("127.0.0.1"), r.udp_first);
  constexpr std::uint32_t kSent = checks::DeferralBudget::kPerSource + 6;
  auto sent_at = Clock::now();
  for (std::uint32_t i = 0; i < kSent; ++i) {
    auto req = fresh_request(i);
    req.reply_delay_ms = 5000;
    REQUIRE_FALSE(socket.send(to, req));
  }
  int immediate = 0;
  run_io(io, [&]() -> asio::awaitable<void> {
    while (auto ev = co_await socket.receive(sent_at + 1000ms))
      if (ev->kind == checks::EchoEvent::Kind::reply) {
        CHECK_FALSE(ev->reply.marks.delayed);
        ++immediate;
      }
  }());
  CHECK(immediate == 6);
  CHECK(r.process->stop() == 0);  // with 64 replies still pending: shutdown does not wait for them
  CHECK(read_file(r.log_file).find("64 deferred, 6 deferrals refused") != std::string::npos);
}

TEST_CASE("echo v2 over TCP: framed replies carry the SYN's TOS and are marked as asked, IPv4 and IPv6") {
  TempDir dir;
  for (std::string bind : {"127.0.0.1", "::1"}) {
    CAPTURE(bind);
    auto r = start_v2(dir, bind, {"--token", "s3cret"});
    asio::ip::tcp::endpoint to(asio::ip::make_address(bind), r.tcp_port);
    std::vector<checks::echo::Request> requests;
    for (int reply_tos : {0xb8, 0x88, 0x60}) {
      auto req = fresh_request(static_cast<std::uint32_t>(requests.size()));
      req.reply_tos = static_cast<std::uint8_t>(reply_tos);
      requests.push_back(req);
    }
    requests.push_back(fresh_request(9));  // no reply_tos: back to 0
    auto run = stream_v2(to, "s3cret", requests, 0x60, 2000ms, true);
    REQUIRE(run.connect.ok());
    REQUIRE(run.replies.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      const auto& reply = run.replies[i].reply;
      CHECK(reply.sequence == requests[i].sequence);  // in order
      CHECK(reply.seen.tos == 0x60);                  // the SYN's
      CHECK(reply.version == (i < 3 ? 2 : 1));        // the last request had no v2 field
      CHECK(reply.marks.tcp == (i < 3));
      CHECK(reply.seen.source.address() == to.address());
      CHECK(reply.size == 160);
    }
    CHECK(*run.replies[0].reply.marks.reply_tos == 0xb8);
    CHECK(*run.replies[1].reply.marks.reply_tos == 0x88);
    CHECK_FALSE(run.replies[3].reply.marks.reply_tos);
    // Sent back to back, the replies still come in order, each once.
    auto burst = stream_v2(to, "s3cret", requests, 0x60, 2000ms);
    REQUIRE(burst.replies.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(burst.replies[i].reply.sequence == requests[i].sequence);
    // What arrived: IPv6 reads the traffic class per segment unprivileged;
    // IPv4 needs CAP_NET_RAW, else says it could not tell.
    bool readable = bind == "::1" || ::geteuid() == 0;
    if (readable) {
      REQUIRE(run.replies[0].tos);
      CHECK(*run.replies[0].tos == 0xb8);
      CHECK(*run.replies[1].tos == 0x88);
      CHECK(*run.replies[2].tos == 0x60);
      CHECK(*run.replies[3].tos == 0x00);
    } else {
      CHECK_FALSE(run.replies[0].tos);
    }
    CHECK(r.process->stop() == 0);
  }
}

TEST_CASE("echo v2 over TCP: a deferred reply waits on the same connection, others are not held up") {
  TempDir dir;
  auto r = start_v2(dir, "127.0.0.1");
  asio::ip::tcp::endpoint to(asio::ip::make_address("127.0.0.1"), r.tcp_port);
  auto deferred = fresh_request(1);
  deferred.reply_delay_ms = 700;
  auto at_once = fresh_request(2);
  auto run = stream_v2(to, "", {deferred, at_once}, -1, 2000ms);
  REQUIRE(run.connect.ok());
  REQUIRE(run.replies.size() == 2);
  CHECK(run.replies[0].reply.sequence == 2);
  CHECK(run.waited[0] < 400ms);
  CHECK(run.replies[1].reply.sequence == 1);
  CHECK(run.replies[1].reply.marks.delayed);
  CHECK(run.waited[1] >= 700ms);
  CHECK(r.process->stop() == 0);
}

TEST_CASE("echo over TCP: bad frames, wrong tokens and v1 requests") {
  TempDir dir;
  auto r = start_v2(dir, "127.0.0.1", {"--token", "s3cret"});
  asio::ip::tcp::endpoint to(asio::ip::make_address("127.0.0.1"), r.tcp_port);
  SUBCASE("a v1 request is answered in v1, with the SYN's TOS") {
    auto run = stream_v2(to, "s3cret", {fresh_request(5)}, 0x88, 2000ms);
    REQUIRE(run.replies.size() == 1);
    CHECK(run.replies[0].reply.version == 1);
    CHECK(run.replies[0].reply.seen.tos == 0x88);
  }
  SUBCASE("a wrong token: no reply, the connection is closed") {
    auto run = stream_v2(to, "guess", {fresh_request(5)}, -1, 2000ms);
    REQUIRE(run.connect.ok());
    CHECK(run.replies.empty());
    CHECK((run.end == asio::error::eof || run.end == asio::error::connection_reset));
  }
  SUBCASE("a frame shorter than a probe or a garbage frame: closed, nothing answered") {
    for (std::vector<std::uint8_t> bytes :
         {std::vector<std::uint8_t>{0x00, 0x10, 1, 2, 3}, std::vector<std::uint8_t>(2 + 100, 0x41)}) {
      if (bytes.size() > 5) bytes[0] = 0, bytes[1] = 100;
      asio::io_context io;
      asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      s.connect(to, ec);
      REQUIRE_FALSE(ec);
      asio::write(s, asio::buffer(bytes), ec);
      std::uint8_t byte;
      s.read_some(asio::buffer(&byte, 1), ec);  // the responder closes, sends nothing
      CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
    }
  }
  SUBCASE("the connection is refused past the per-source cap") {
    asio::io_context io;
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> held;
    for (std::size_t i = 0; i < checks::TcpEchoLimits::kMaxConnectionsPerSource; ++i) {
      held.push_back(std::make_unique<asio::ip::tcp::socket>(io));
      boost::system::error_code ec;
      held.back()->connect(to, ec);
      REQUIRE_FALSE(ec);
    }
    // The next one is accepted by the kernel, then closed by the service unanswered.
    auto run = stream_v2(to, "s3cret", {fresh_request(1)}, -1, 2000ms);
    CHECK(run.replies.empty());
    held.clear();
    // Once those are gone, a new connection is served again.
    bool served = false;
    for (int attempt = 0; attempt < 20 && !served; ++attempt)
      served = stream_v2(to, "s3cret", {fresh_request(2)}, -1, 500ms).replies.size() == 1;
    CHECK(served);
  }
  CHECK(r.process->stop() == 0);
}

// ---- keyed probes and the control session ----

namespace {

std::vector<std::uint8_t> keyed_probe(const std::string& token, std::uint32_t sequence) {
  auto req = fresh_request(sequence);
  return checks::echo::encode_request(req, token);
}

}  // namespace

TEST_CASE("a keyed probe is answered only from the address whose control hello opened its session") {
  TempDir dir;
  auto r = start_responder(dir, 2, {"--token", "s3cret"});
  auto captured = keyed_probe("s3cret", 1);
  CHECK_FALSE(answered_from("127.0.0.1", r.udp_first, captured));  // no hello yet: no session
  auto hello = open_session("127.0.0.1", r.control, "s3cret", "127.0.0.1");
  REQUIRE(hello.value("ok", false));
  CHECK(hello["session_s"] == 3900);
  CHECK(answered_from("127.0.0.1", r.udp_first, captured));
  // The same bytes replayed from another source (a spoofed victim) get nothing.
  CHECK_FALSE(answered_from("127.0.0.2", r.udp_first, captured));
  CHECK_FALSE(answered_from("127.0.0.2", r.udp_first + 1, keyed_probe("s3cret", 2)));
  // A hello that fails the proof opens nothing.
  auto guessed = open_session("127.0.0.1", r.control, "guess", "127.0.0.2");
  CHECK(guessed.value("error", "") == "unauthorized");
  CHECK_FALSE(answered_from("127.0.0.2", r.udp_first, captured));
  // Once that address says hello itself, it is answered too.
  REQUIRE(open_session("127.0.0.1", r.control, "s3cret", "127.0.0.2").value("ok", false));
  CHECK(answered_from("127.0.0.2", r.udp_first, captured));
  CHECK(r.process->stop() == 0);
  CHECK(read_file(r.log_file).find("4 from addresses without a control session") != std::string::npos);
}

TEST_CASE("a keyed probe after its session's lifetime is not answered") {
  TempDir dir;
  auto r = start_responder(dir, 1, {"--token", "s3cret"});
  auto opened_at = Clock::now();
  auto hello = open_session("127.0.0.1", r.control, "s3cret", "127.0.0.1", {{"session_s", 1}});
  REQUIRE(hello.value("ok", false));
  CHECK(hello["session_s"] == 1);
  CHECK(answered_from("127.0.0.1", r.udp_first, keyed_probe("s3cret", 1)));
  // Probe until the session ends (bounded): answered for its second, then
  // never. Three misses in a row end it: one reply lost on a busy machine
  // must not read as the session's end.
  int misses = 0;
  std::uint32_t sequence = 2;
  while (misses < 3 && Clock::now() - opened_at < 6s)
    misses = answered_from("127.0.0.1", r.udp_first, keyed_probe("s3cret", sequence++), 100ms) ? 0 : misses + 1;
  REQUIRE(misses == 3);
  CHECK(Clock::now() - opened_at >= 1s);
  CHECK_FALSE(answered_from("127.0.0.1", r.udp_first, keyed_probe("s3cret", sequence++)));
  // A new hello opens a new session.
  REQUIRE(open_session("127.0.0.1", r.control, "s3cret", "127.0.0.1").value("ok", false));
  CHECK(answered_from("127.0.0.1", r.udp_first, keyed_probe("s3cret", sequence++)));
  CHECK(r.process->stop() == 0);
}

TEST_CASE("without a token the responder answers every source, no hello needed") {
  TempDir dir;
  auto r = start_responder(dir, 1);
  CHECK(answered_from("127.0.0.2", r.udp_first, keyed_probe("", 1)));
  CHECK(answered_from("127.0.0.1", r.udp_first, keyed_probe("", 2)));
  auto hello = open_session("127.0.0.1", r.control, "");
  REQUIRE(hello.value("ok", false));
  CHECK_FALSE(hello.contains("session_s"));
  CHECK(r.process->stop() == 0);
}

TEST_CASE("on the IPv4 wildcard the control port also listens on IPv6, where a hello opens the IPv6 session") {
  TempDir dir;
  unsigned short control = free_port();
  unsigned short udp = free_udp_block(1);
  std::vector<std::string> argv = {CALLREADY_BINARY, "respond", "--listen",    "0.0.0.0:" + std::to_string(control),
                                   "--bind",         "::1",     "--udp-ports", std::to_string(udp),
                                   "--token",        "s3cret"};
  ChildProcess process(argv, dir.file("responder-wildcard.log"));
  REQUIRE(wait_for_tcp("::1", control, std::chrono::seconds(10)));
  udp::endpoint to(asio::ip::make_address("::1"), udp);
  auto probe6 = [&](std::uint32_t sequence) { return answered_from("::1", to, keyed_probe("s3cret", sequence)); };
  // A hello over IPv4 opens 127.0.0.1's session, not ::1's.
  REQUIRE(open_session("127.0.0.1", control, "s3cret").value("ok", false));
  CHECK_FALSE(probe6(1));
  auto hello = open_session("::1", control, "s3cret");
  REQUIRE(hello.value("ok", false));
  CHECK(hello["observed"]["address"] == "::1");
  CHECK(probe6(2));
  CHECK(process.stop() == 0);
}
