#include "checks/tcp/tcp_accept_service.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/endian/conversion.hpp>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "checks/common/echo_probe.hpp"
#include "checks/common/framed_echo.hpp"
#include "checks/common/udp_echo_service.hpp"
#include "probe/net/host_port.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/session_log.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using respond::SessionLog;

namespace {

using asio::ip::tcp;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// The TOS / traffic class byte of the SYN that opened `fd` (the listener had
// TCP_SAVE_SYN); nullopt when the kernel kept none.
std::optional<std::uint8_t> saved_syn_tos(int fd) {
  std::array<std::uint8_t, 512> headers{};
  socklen_t len = headers.size();
  if (::getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, headers.data(), &len) != 0 || len < 2) return std::nullopt;
  std::uint8_t version = headers[0] >> 4;
  if (version == 4) return headers[1];
  if (version == 6) return static_cast<std::uint8_t>(((headers[0] & 0x0f) << 4) | (headers[1] >> 4));
  return std::nullopt;
}

struct EchoTcpStats {
  std::uint64_t accepted = 0, refused = 0, answered = 0, deferred = 0, deferral_refused = 0, closed_bad = 0;
};

class TcpAcceptService;

// One accepted connection: its reader, its ordered outbox and its idle clock.
struct Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::io_context& io, tcp::socket s) : socket(std::move(s)), idle(io), wake(io) {}
  tcp::socket socket;
  Timer idle;  // closes the connection kIdle after the last activity
  Timer wake;  // wakes the writer when the outbox fills
  std::deque<std::pair<std::vector<std::uint8_t>, std::optional<std::uint8_t>>> outbox;  // framed bytes, TOS
  std::size_t deferred = 0;  // replies waiting for their delay
  Clock::time_point last_activity = Clock::now();
  bool v6 = false;
  tcp::endpoint peer;
};

class TcpAcceptService : public std::enable_shared_from_this<TcpAcceptService> {
 public:
  explicit TcpAcceptService(respond::ServiceHost& host) : host_(host), limiter_(host.options.max_pps) {}

  std::string start(const std::vector<net::PortRange>& ranges) {
    return framed::listen_all(
        host_, ranges, "TCP", acceptors_,
        [](tcp::acceptor& a) {
          // The TOS of each connection's SYN (saved_syn_tos).
          int one = 1;
          ::setsockopt(a.native_handle(), IPPROTO_TCP, TCP_SAVE_SYN, &one, sizeof one);
        },
        [this](tcp::acceptor& a, std::uint16_t port) {
          asio::co_spawn(host_.io, accept_loop(shared_from_this(), &a, port), asio::detached);
        });
  }

  void stop() {
    stopped_ = true;
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
    for (auto& [c, weak] : connections_)
      if (auto conn = weak.lock()) conn->socket.close(ec);
  }

  void housekeeping(Clock::time_point now) { limiter_.forget_idle(now); }

  std::string summary() const {
    return fmt::format(
        "{} TCP connections accepted, {} refused (limits), {} framed probes answered ({} deferred, {} "
        "deferrals refused), {} closed on bad input",
        stats_.accepted, stats_.refused, stats_.answered, stats_.deferred, stats_.deferral_refused, stats_.closed_bad);
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<TcpAcceptService> self, tcp::acceptor* a,
                                           std::uint16_t port) {
    for (;;) {
      tcp::socket socket(self->host_.io);
      auto [ec] = co_await a->async_accept(socket, kUseTuple);
      if (ec == asio::error::operation_aborted || !a->is_open() || self->stopped_) co_return;
      if (ec) continue;
      boost::system::error_code ignored;
      auto peer = socket.remote_endpoint(ignored);
      if (ignored) continue;
      auto& from_source = self->per_source_[peer.address()];
      if (self->connections_.size() >= TcpEchoLimits::kMaxConnections ||
          from_source >= TcpEchoLimits::kMaxConnectionsPerSource) {
        if (from_source == 0) self->per_source_.erase(peer.address());
        ++self->stats_.refused;
        continue;  // closed as it goes out of scope
      }
      ++self->stats_.accepted;
      self->host_.sessions.record("tcp-connect", peer.address(), 0, peer.port(), port, SessionLog::Outcome::accepted,
                                  Clock::now());
      socket.set_option(tcp::no_delay(true), ignored);  // each reply its own segment(s), marked as asked
      auto conn = std::make_shared<Connection>(self->host_.io, std::move(socket));
      conn->peer = peer;
      conn->v6 = peer.address().is_v6();
      ++from_source;
      self->connections_[conn.get()] = conn;
      asio::co_spawn(self->host_.io, serve(self, conn, port), asio::detached);
    }
  }

  void forget(Connection* c) {
    connections_.erase(c);
    auto it = per_source_.find(c->peer.address());
    if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  }

  // Reads frames until the peer closes, a frame is bad, or the idle clock runs out.
  static asio::awaitable<void> serve(std::shared_ptr<TcpAcceptService> self, std::shared_ptr<Connection> conn,
                                     std::uint16_t port) {
    auto syn_tos = saved_syn_tos(conn->socket.native_handle());
    asio::co_spawn(self->host_.io, watch_idle(conn), asio::detached);
    asio::co_spawn(self->host_.io, write_loop(self, conn), asio::detached);
    std::vector<std::uint8_t> buf(echo::kMaxDatagram);
    for (;;) {
      auto reading = framed::read_frame(conn->socket, buf);
      auto frame = co_await std::move(reading);
      if (frame.error == asio::error::invalid_argument) ++self->stats_.closed_bad;
      if (!frame.ok()) break;
      std::size_t length = frame.length;
      auto now = Clock::now();
      conn->last_activity = now;
      if (!self->limiter_.allow(conn->peer.address(), now)) continue;  // dropped, as over UDP
      echo::Request request;
      auto err = echo::decode_request({buf.data(), length}, self->host_.options.token, request);
      if (err != echo::DecodeError::none) {
        ++self->stats_.closed_bad;
        break;
      }
      self->host_.sessions.record("tcp-echo", conn->peer.address(), request.session, conn->peer.port(), port,
                                  SessionLog::Outcome::answered, now);
      echo::Observation seen{asio::ip::udp::endpoint(conn->peer.address(), conn->peer.port()), syn_tos.value_or(0),
                             echo::now_us(), static_cast<std::uint16_t>(length)};
      echo::ReplyMarks marks;
      marks.tcp = true;
      marks.reply_tos = request.reply_tos;
      bool wants_delay = request.reply_delay_ms && *request.reply_delay_ms > 0;
      bool defer = wants_delay && conn->deferred < TcpEchoLimits::kMaxDeferredPerConnection &&
                   self->deferrals_.acquire(conn->peer.address());
      if (wants_delay && !defer) ++self->stats_.deferral_refused;
      marks.delayed = defer;
      auto framed = framed::framed_reply(request, seen, self->host_.options.token, marks);
      if (defer) {
        ++self->stats_.deferred;
        ++conn->deferred;
        auto delay = std::chrono::milliseconds(*request.reply_delay_ms);
        asio::co_spawn(self->host_.io, deferred_reply(self, conn, std::move(framed), request.reply_tos, delay),
                       asio::detached);
      } else {
        self->enqueue(*conn, std::move(framed), request.reply_tos);
      }
    }
    boost::system::error_code ec;
    conn->socket.close(ec);
    conn->idle.cancel();
    conn->wake.cancel();
    self->forget(conn.get());
  }

  void enqueue(Connection& conn, std::vector<std::uint8_t> framed, std::optional<std::uint8_t> tos) {
    conn.outbox.emplace_back(std::move(framed), tos);
    conn.wake.cancel();
  }

  static asio::awaitable<void> deferred_reply(std::shared_ptr<TcpAcceptService> self, std::shared_ptr<Connection> conn,
                                              std::vector<std::uint8_t> framed, std::optional<std::uint8_t> tos,
                                              std::chrono::milliseconds delay) {
    Timer timer(self->host_.io);
    timer.expires_after(delay);
    // The connection closing does not cut the wait short; the reply is then dropped.
    co_await timer.async_wait(kUseTuple);
    --conn->deferred;
    self->deferrals_.release(conn->peer.address());
    if (self->stopped_ || !conn->socket.is_open()) co_return;
    conn->last_activity = Clock::now();
    self->enqueue(*conn, std::move(framed), tos);
  }

  // One writer per connection keeps replies whole and in order.
  static asio::awaitable<void> write_loop(std::shared_ptr<TcpAcceptService> self, std::shared_ptr<Connection> conn) {
    std::optional<std::uint8_t> current_tos;
    while (conn->socket.is_open()) {
      if (conn->outbox.empty()) {
        conn->wake.expires_at(Clock::time_point::max());
        co_await conn->wake.async_wait(kUseTuple);
        continue;
      }
      auto [bytes, tos] = std::move(conn->outbox.front());
      conn->outbox.pop_front();
      std::uint8_t want = tos.value_or(0);
      if (current_tos.value_or(0) != want) {
        int value = want;
        int fd = conn->socket.native_handle();
        if (conn->v6)
          ::setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &value, sizeof value);
        else
          ::setsockopt(fd, IPPROTO_IP, IP_TOS, &value, sizeof value);
        current_tos = want;
      }
      auto [ec, n] = co_await asio::async_write(conn->socket, asio::buffer(bytes), kUseTuple);
      if (ec) break;
      ++self->stats_.answered;
    }
  }

  static asio::awaitable<void> watch_idle(std::shared_ptr<Connection> conn) {
    while (conn->socket.is_open()) {
      conn->idle.expires_at(conn->last_activity + TcpEchoLimits::kIdle);
      auto [ec] = co_await conn->idle.async_wait(kUseTuple);
      if (ec || !conn->socket.is_open()) co_return;
      if (conn->deferred > 0) {
        conn->last_activity = Clock::now();  // never while a deferred reply waits; look again later
        continue;
      }
      if (Clock::now() >= conn->last_activity + TcpEchoLimits::kIdle) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        conn->wake.cancel();
        co_return;
      }
    }
  }

  respond::ServiceHost& host_;
  respond::RateLimiter limiter_;
  DeferralBudget deferrals_;
  EchoTcpStats stats_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::map<Connection*, std::weak_ptr<Connection>> connections_;
  std::map<asio::ip::address, std::size_t> per_source_;
  bool stopped_ = false;
};

}  // namespace

respond::ServiceKind tcp_accept_service() {
  return framed::service_kind<TcpAcceptService>(
      "tcp_accept", "--tcp-ports", "TCP ports: accept (reachability) and answer RFC 4571-framed echo probes");
}

}  // namespace callready::checks
