#include "checks/media_path/media_path_steps.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cmath>

#include "checks/common/echo_client.hpp"
#include "checks/common/framed_echo.hpp"
#include "checks/common/http_proxy.hpp"
#include "checks/stun/stun_client.hpp"
#include "probe/net/async.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::media_path {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using net::NetFailure;

namespace {

constexpr Millis kFirstResend{200};  // UDP: the gap before the first resend, doubled after each

std::uint64_t random_session() {
  std::uint64_t s = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s);
  return s;
}

// A step's attempt at `transport` to `port`, with `probe` ("echo" or "stun"), not yet decided.
Step step_for(PathTransport transport, std::uint16_t port, const char* probe = "echo") {
  Step s;
  s.attempt.transport = transport;
  s.attempt.port = port;
  s.attempt.probe = probe;
  return s;
}

double ms_since(Clock::time_point start) {
  return std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 10) / 10;
}

std::string where(const tcp::endpoint& to) { return net::format_host_port(to.address(), to.port()); }

AttemptResult result_of(NetFailure f) {
  switch (f) {
    case NetFailure::refused:
      return AttemptResult::refused;
    case NetFailure::unreachable:
      return AttemptResult::unreachable;
    case NetFailure::timeout:
      return AttemptResult::timeout;
    default:
      return AttemptResult::reset;
  }
}

// A failed connect or stream operation, sorted by net::classify.
void failed(PathAttempt& a, const boost::system::error_code& ec, Operation op, const std::string& what) {
  a.operation = op;
  a.result = result_of(net::classify(ec));
  a.detail = fmt::format("{}: {}", what, ec == asio::error::timed_out ? "no answer" : ec.message());
}

bool local_failure(const boost::system::error_code& ec) { return net::classify(ec) == NetFailure::local; }

}  // namespace

asio::awaitable<Step> try_udp(CheckContext& ctx, udp::endpoint to, Millis wait) {
  auto s = step_for(PathTransport::udp, to.port());
  EchoSocket socket(ctx.executor);
  EchoSocketOptions options;
  options.token = ctx.settings.token;
  if (auto err = socket.open(to.protocol(), options)) {
    s.error = err;
    co_return s;
  }
  auto session = random_session();
  auto start = Clock::now();
  auto end = start + wait;
  auto next_send = start;
  Millis gap = kFirstResend;
  std::uint32_t sent = 0;
  while (Clock::now() < end) {
    if (Clock::now() >= next_send) {
      echo::Request request;
      request.session = session;
      request.sequence = sent;
      if (auto ec = socket.send(to, request); ec && local_failure(ec)) {
        s.error = net::local_error(Operation::send, "UDP to " + net::format_host_port(to.address(), to.port()), ec);
        co_return s;
      }
      ++sent;
      next_send = Clock::now() + gap;
      gap *= 2;
    }
    auto event = co_await socket.receive(std::min(next_send, end));
    if (!event) continue;
    if (event->kind == EchoEvent::Kind::icmp) {
      if (event->icmp.destination != to || !event->icmp.destination_unreachable()) continue;
      s.attempt.result = AttemptResult::unreachable;
      s.attempt.operation = Operation::receive;
      s.attempt.detail = event->icmp.describe();
      co_return s;
    }
    if (event->from != to || event->reply.session != session) continue;
    s.attempt.result = AttemptResult::ok;
    s.attempt.rtt_ms = std::round(static_cast<double>(echo::now_us() - event->reply.sent_us) / 100.0) / 10.0;
    co_return s;
  }
  s.attempt.result = AttemptResult::timeout;
  s.attempt.operation = Operation::receive;
  s.attempt.detail = fmt::format("no reply to {} probe{} in {} ms", sent, sent == 1 ? "" : "s", wait.count());
  co_return s;
}

namespace {

// A STUN exchange that answered, or failed for a reason of this machine: the
// step is decided (true). Otherwise the caller says what the network did.
bool stun_settled(Step& s, const stun::Exchange& exchange, const std::string& where) {
  if (exchange.answered) {
    s.attempt.result = AttemptResult::ok;
    s.attempt.rtt_ms = exchange.rtt_ms;
    return true;
  }
  if (exchange.failure == NetFailure::local) {
    s.error = CheckError{ErrorReason::local, exchange.failed, where + ": " + exchange.error};
    return true;
  }
  return false;
}

}  // namespace

asio::awaitable<Step> try_udp_stun(CheckContext& ctx, udp::endpoint to, Millis wait) {
  auto s = step_for(PathTransport::udp, to.port(), "stun");
  udp::socket sock(ctx.executor);
  boost::system::error_code ec;
  sock.open(to.protocol(), ec);
  if (ec) {
    s.error = net::local_error(Operation::bind, "a UDP socket", ec);
    co_return s;
  }
  stun::RequestOptions options;  // named: GCC 12 miscompiles braced temporaries in co_await
  options.password = ctx.settings.token;
  stun::Retransmission plan;
  plan.rto = kFirstResend;
  plan.budget = wait;
  auto exchanging = stun::udp_exchange(sock, to, options, plan);
  auto exchange = co_await std::move(exchanging);
  if (stun_settled(s, exchange, net::format_host_port(to.address(), to.port()))) co_return s;
  s.attempt.operation = exchange.failed == Operation::none ? Operation::receive : exchange.failed;
  if (exchange.icmp) {
    s.attempt.result = AttemptResult::unreachable;
    s.attempt.detail = exchange.icmp->describe();
  } else {
    s.attempt.result = AttemptResult::timeout;
    s.attempt.detail = fmt::format("no answer to {} STUN Binding request{} in {} ms", exchange.sent(),
                                   exchange.sent() == 1 ? "" : "s", wait.count());
  }
  co_return s;
}

asio::awaitable<Step> try_tcp_stun(CheckContext& ctx, tcp::endpoint to, Millis wait) {
  auto s = step_for(PathTransport::tcp, to.port(), "stun");
  auto start = Clock::now();
  stun::RequestOptions options;
  options.password = ctx.settings.token;
  auto exchanging = stun::tcp_exchange(udp::endpoint(to.address(), to.port()), wait, wait, options);
  auto exchange = co_await std::move(exchanging);
  if (stun_settled(s, exchange, net::format_host_port(to.address(), to.port()))) co_return s;
  s.attempt.operation = exchange.failed;
  // Silence after connecting is a timeout; an answer that was not ours, a middlebox in the way.
  s.attempt.result = exchange.failure                      ? result_of(*exchange.failure)
                     : exchange.failed == Operation::parse ? AttemptResult::reset
                                                           : AttemptResult::timeout;
  s.attempt.detail = fmt::format("STUN Binding over TCP to {}: {} (after {} ms)", where(to), exchange.error,
                                 std::chrono::duration_cast<Millis>(Clock::now() - start).count());
  co_return s;
}

asio::awaitable<Step> try_tcp(CheckContext& ctx, tcp::endpoint to, Millis wait) {
  auto s = step_for(PathTransport::tcp, to.port());
  auto start = Clock::now();
  EchoStream stream(ctx.executor);
  EchoStreamOptions options;
  options.token = ctx.settings.token;
  auto connecting = stream.connect(to, options, wait);
  auto connected = co_await std::move(connecting);
  if (connected.error) {
    s.error = connected.error;
    co_return s;
  }
  if (connected.connect_error) {
    if (local_failure(connected.connect_error)) {
      s.error = net::local_error(Operation::connect, "TCP " + where(to), connected.connect_error);
      co_return s;
    }
    failed(s.attempt, connected.connect_error, Operation::connect, "connect to " + where(to));
    co_return s;
  }
  echo::Request request;
  request.session = random_session();
  auto sending = stream.send(request);
  if (auto ec = co_await std::move(sending)) {
    failed(s.attempt, ec, Operation::send, "send over TCP to " + where(to));
    co_return s;
  }
  auto sent_at = Clock::now();
  while (true) {
    auto receiving = stream.receive(start + wait);
    auto reply = co_await std::move(receiving);
    if (!reply) {
      failed(s.attempt, stream.last_error(), Operation::receive,
             "the framed echo over TCP to " + where(to) + " (connected)");
      co_return s;
    }
    if (reply->reply.session != request.session) continue;
    s.attempt.result = AttemptResult::ok;
    s.attempt.rtt_ms = ms_since(sent_at);
    co_return s;
  }
}

namespace {

// Closes `sock` at `deadline` unless disarmed first: bounds every TLS step
// (a handshake or read that hangs ends with operation_aborted).
struct Watchdog {
  struct State {
    bool fired = false;
    bool armed = true;  // false once the watchdog is gone: a handler already queued must not touch the socket
  };
  Watchdog(asio::any_io_executor ex, tcp::socket& sock, Clock::time_point deadline) : timer(ex) {
    timer.expires_at(deadline);
    timer.async_wait([&sock, state = state](boost::system::error_code ec) {
      if (ec || !state->armed) return;
      state->fired = true;
      boost::system::error_code ignored;
      sock.close(ignored);
    });
  }
  ~Watchdog() {
    state->armed = false;
    timer.cancel();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  bool fired() const { return state->fired; }
  Timer timer;
  std::shared_ptr<State> state = std::make_shared<State>();
};

// After a TLS step failed: the watchdog's timeout, a TLS alert, or the connection cut.
void tls_failed(PathAttempt& a, const Watchdog& dog, const boost::system::error_code& ec, Operation op,
                const std::string& what) {
  a.operation = op;
  if (dog.fired()) {
    a.result = AttemptResult::timeout;
    a.detail = what + ": no answer";
  } else if (ec.category() == asio::error::get_ssl_category() || ec == ssl::error::stream_truncated) {
    a.result = op == Operation::handshake ? AttemptResult::handshake_failed : AttemptResult::reset;
    a.detail = what + ": " + ec.message();
  } else {
    failed(a, ec, op, what);
  }
}

}  // namespace

namespace {

// A TLS handshake with no SNI over the connected `sock`, then one framed echo
// inside; `where` names the far end in the attempt's words.
asio::awaitable<void> tls_echo(CheckContext& ctx, tcp::socket& sock, const Watchdog& dog, PathAttempt& attempt,
                               std::string where, bool echo_inside) {
  // No SNI (media over TLS carries none) and no verification: the path is tested, not trust.
  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);
  ssl::stream<tcp::socket&> stream(sock, tls);
  auto handshake_start = Clock::now();
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  if (hec) {
    tls_failed(attempt, dog, hec, Operation::handshake, "TLS handshake with " + where + " (no SNI)");
    co_return;
  }
  if (!echo_inside) {  // a TLS service without the echo: the completed handshake is the answer
    attempt.result = AttemptResult::ok;
    attempt.rtt_ms = ms_since(handshake_start);
    co_return;
  }
  echo::Request request;
  request.session = random_session();
  auto bytes = framed::framed_request(request, ctx.settings.token);
  auto sent_at = Clock::now();
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  if (wec) {
    tls_failed(attempt, dog, wec, Operation::send, "send inside TLS to " + where);
    co_return;
  }
  std::vector<std::uint8_t> buffer(echo::kMaxDatagram);
  for (;;) {
    auto reading = framed::read_frame(stream, buffer);
    auto frame = co_await std::move(reading);
    if (!frame.ok()) {
      tls_failed(attempt, dog, frame.error, Operation::receive, "the framed echo inside TLS to " + where);
      co_return;
    }
    echo::Reply reply;
    if (echo::decode_reply({buffer.data(), frame.length}, ctx.settings.token, reply) != echo::DecodeError::none ||
        reply.session != request.session)
      continue;  // skipped, as over UDP
    attempt.result = AttemptResult::ok;
    attempt.rtt_ms = ms_since(sent_at);
    co_return;
  }
}

// Why the proxy gave no tunnel, as an attempt's result.
void tunnel_failed(PathAttempt& a, const http_proxy::TunnelResult& t) {
  using http_proxy::TunnelFailure;
  a.operation = t.operation;
  a.detail = t.message;
  a.proxy_status = t.status;
  switch (t.failure) {
    case TunnelFailure::connect:
      a.result = result_of(t.net);
      break;
    case TunnelFailure::timeout:
      a.result = AttemptResult::timeout;
      break;
    case TunnelFailure::closed:
      a.result = AttemptResult::reset;
      break;
    default:  // 407, another status, a malformed answer
      a.result = AttemptResult::proxy_refused;
      break;
  }
}

}  // namespace

asio::awaitable<Step> try_tls(CheckContext& ctx, tcp::endpoint to, Millis wait, bool echo_inside) {
  auto s = step_for(PathTransport::tls, to.port(), echo_inside ? "echo" : "handshake");
  auto start = Clock::now();
  tcp::socket sock(ctx.executor);
  boost::system::error_code ec;
  sock.open(to.protocol(), ec);
  if (ec) {
    s.error = net::local_error(Operation::bind, "a TCP socket", ec);
    co_return s;
  }
  Watchdog dog(ctx.executor, sock, start + wait);
  auto [cec] = co_await sock.async_connect(to, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    if (!dog.fired() && local_failure(cec)) {
      s.error = net::local_error(Operation::connect, "TCP " + where(to), cec);
      co_return s;
    }
    tls_failed(s.attempt, dog, cec, Operation::connect, "connect to " + where(to));
    co_return s;
  }
  auto echoing = tls_echo(ctx, sock, dog, s.attempt, where(to), echo_inside);
  co_await std::move(echoing);
  co_return s;
}

asio::awaitable<Step> try_tls_via_proxy(CheckContext& ctx, tcp::endpoint proxy_at, http_proxy::Url proxy,
                                        std::string host, std::uint16_t port, Millis wait, bool echo_inside) {
  auto s = step_for(PathTransport::tls, port, echo_inside ? "echo" : "handshake");
  s.attempt.proxy = proxy.scheme + "://" + proxy.authority();  // no credentials, no path
  auto start = Clock::now();
  auto opening = http_proxy::open_tunnel(proxy_at, proxy, host, port, wait);
  auto tunnel = co_await std::move(opening);
  if (tunnel.failure != http_proxy::TunnelFailure::none || !tunnel.socket) {
    if (tunnel.failure == http_proxy::TunnelFailure::connect && tunnel.net == NetFailure::local) {
      s.error = CheckError{ErrorReason::local, Operation::connect, tunnel.message};
      co_return s;
    }
    tunnel_failed(s.attempt, tunnel);
    co_return s;
  }
  s.attempt.proxy_status = tunnel.status;
  Watchdog dog(ctx.executor, *tunnel.socket, start + wait);
  auto echoing = tls_echo(ctx, *tunnel.socket, dog, s.attempt,
                          net::format_host_port(host, port) + " through proxy " + proxy.authority(), echo_inside);
  co_await std::move(echoing);
  co_return s;
}

}  // namespace callready::checks::media_path
