#include "checks/tcp/tcp_check.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cmath>

#include "checks/tcp/tcp_metrics.hpp"
#include "probe/net/async.hpp"
#include "probe/net/host_port.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace tcp {

TcpParams TcpParams::parse(ParamReader& r) {
  TcpParams p;
  p.host = r.string("host");
  p.port = r.port("port");
  p.connect_timeout_ms = r.integer_or("connect_timeout_ms", 50, 60000, 3000);
  return p;
}

std::string TcpParams::target() const { return net::format_host_port(host, port); }

namespace {

struct Connected {
  TcpAttempt attempt;
  boost::system::error_code ec;
};

using asio::ip::tcp;

asio::awaitable<boost::system::error_code> connect_socket(tcp::socket& sock, tcp::endpoint to) {
  auto [ec] = co_await sock.async_connect(to, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

// The second SYN, on a new connection, halfway through an RTT-derived wait:
// one lost SYN must not read as a DROP when the wait is a few RTTs long. With
// no RTT known the kernel's own SYN retransmissions do that work: it never sends.
asio::awaitable<boost::system::error_code> connect_again(tcp::socket& sock, tcp::endpoint to, net::PathRtt& paths,
                                                         Clock::time_point start, Millis limit) {
  auto halfway = paths.wait_silence(to.address(), start, limit, 0.5);
  auto rule = co_await std::move(halfway);
  if (rule.basis == net::WaitBasis::timeout) {
    Timer idle(co_await asio::this_coro::executor);
    idle.expires_at(Timer::time_point::max());
    co_await idle.async_wait(asio::use_awaitable);  // until the other branches end it
  }
  auto connecting = connect_socket(sock, to);
  co_return co_await std::move(connecting);
}

// Connected after all? The answer may have arrived while the loop was busy
// and the silence wait was seen first.
bool connected_meanwhile(tcp::socket& sock) {
  if (!sock.is_open()) return false;
  pollfd p{sock.native_handle(), POLLOUT, 0};
  if (::poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(sock.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

asio::awaitable<Connected> connect_one(asio::ip::address addr, std::uint16_t port, Millis limit) {
  using namespace asio::experimental::awaitable_operators;
  Connected c;
  c.attempt.address = addr;
  auto ex = co_await asio::this_coro::executor;
  auto& paths = net::path_rtt(ex);
  tcp::endpoint to(addr, port);
  tcp::socket first(ex), second(ex);
  auto start = Clock::now();
  auto trying = connect_socket(first, to);
  auto retrying = connect_again(second, to, paths, start, limit);
  auto silence = paths.wait_silence(addr, start, limit);
  auto r = co_await (std::move(trying) || std::move(retrying) || std::move(silence));
  auto elapsed = Clock::now() - start;
  c.attempt.rtt_ms = std::round(std::chrono::duration<double, std::milli>(elapsed).count() * 10) / 10;
  c.attempt.syns = second.is_open() ? 2 : 1;
  if (r.index() == 2) {
    if (connected_meanwhile(first) || connected_meanwhile(second)) {
      c.attempt.connected = true;
    } else {
      c.attempt.failure = net::NetFailure::timeout;
      c.attempt.silence = std::get<2>(r);
    }
    co_return c;
  }
  auto ec = r.index() == 0 ? std::get<0>(r) : std::get<1>(r);
  if (ec) {
    c.ec = ec;
    c.attempt.failure = net::classify(ec);
    c.attempt.message = ec.message();
  } else {
    c.attempt.connected = true;
    // Only the first SYN's exchange is one RTT from `start`.
    if (r.index() == 0) paths.record(addr, elapsed);
  }
  co_return c;
}

asio::awaitable<Measured<TcpResult>> measure_tcp(TcpParams p, CheckContext& ctx) {
  Measured<TcpResult> m;
  m.result.host = p.host;
  m.result.port = p.port;
  auto resolving = checks::resolve_target(ctx, p.host);
  m.result.resolved = co_await std::move(resolving);
  if (!m.result.resolved.resolved()) co_return m;

  std::vector<asio::awaitable<Connected>> tasks;
  auto limit = ctx.budget(Millis(p.connect_timeout_ms));
  for (const auto& addr : m.result.resolved.addresses) tasks.push_back(connect_one(addr, p.port, limit));
  auto gathering = net::gather(std::move(tasks));
  auto attempts = co_await std::move(gathering);
  for (const auto& c : attempts) m.result.attempts.push_back(c.attempt);

  // This machine could not even try (no IPv6, out of descriptors...): that says
  // nothing about the network, unless another address connected anyway.
  if (!m.result.fastest_connected())
    for (const auto& c : attempts)
      if (c.attempt.failure == net::NetFailure::local) {
        m.error = net::local_error(Operation::connect, net::format_host_port(c.attempt.address, p.port), c.ec);
        break;
      }
  co_return m;
}

}  // namespace
}  // namespace tcp

CheckKind tcp_check_kind() {
  return make_check_kind<tcp::TcpParams, tcp::TcpResult>(
      "tcp", Millis(8000),
      KindFunctions<tcp::TcpParams, tcp::TcpResult>{&tcp::measure_tcp, &tcp::judge_tcp, &tcp::tcp_view, &tcp_metrics});
}

}  // namespace callready::checks
