#include "checks/tcp/tcp_check.hpp"

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

asio::awaitable<Connected> connect_one(asio::ip::address addr, std::uint16_t port, Millis limit) {
  Connected c;
  c.attempt.address = addr;
  asio::ip::tcp::socket sock(co_await asio::this_coro::executor);
  auto start = Clock::now();
  auto r = co_await net::with_timeout(
      sock.async_connect(asio::ip::tcp::endpoint(addr, port), asio::as_tuple(asio::use_awaitable)), limit);
  c.attempt.rtt_ms = std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 10) / 10;
  if (!r) {
    c.attempt.failure = net::NetFailure::timeout;
  } else if (auto [ec] = *r; ec) {
    c.ec = ec;
    c.attempt.failure = net::classify(ec);
    c.attempt.message = ec.message();
  } else {
    c.attempt.connected = true;
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
