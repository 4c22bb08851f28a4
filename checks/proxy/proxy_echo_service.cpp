// The responder's HTTP echo. Never an amplifier and never a sink:
//  - one request per connection, its head at most 16 KiB (kMaxHeadBytes) and
//    100 fields; a body is never read;
//  - the answer is the head plus a few lines (about its own size);
//  - at most kPerSource connections from one address at once, kMaxConnections
//    in all, kConnectsPerSecond new ones per address;
//  - a connection idle for kIdle (TLS handshake included) is closed.
#include "checks/proxy/proxy_echo_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

#include "checks/proxy/proxy_http.hpp"
#include "checks/proxy/proxy_tls.hpp"
#include "probe/net/host_port.hpp"
#include "probe/respond/loop_faults.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::checks {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kPerSource = 16;
constexpr std::size_t kMaxConnections = 256;
constexpr int kConnectsPerSecond = 20;
constexpr auto kIdle = std::chrono::seconds(10);

std::string serialize(http::response<http::string_body>& res) {
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

std::string refusal(http::status status, const std::string& why) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "callready-respond");
  res.set(http::field::content_type, "text/plain");
  res.set(http::field::connection, "close");
  res.body() = why + "\n";
  return serialize(res);
}

}  // namespace

std::optional<std::string> http_echo_answer(std::string_view received, const asio::ip::address& source,
                                            std::uint16_t source_port, const std::string& tls_pin) {
  auto parsed = proxy::parse_head(received);
  if (parsed.status == proxy::HeadStatus::incomplete) return std::nullopt;
  if (parsed.status == proxy::HeadStatus::too_large)
    return refusal(http::status::request_header_fields_too_large, parsed.error);
  if (parsed.status == proxy::HeadStatus::invalid || !parsed.head.is_request())
    return refusal(http::status::bad_request,
                   parsed.status == proxy::HeadStatus::invalid ? parsed.error : "not a request line");
  proxy::EchoReport report{source.to_string(), source_port, tls_pin, std::string(received.substr(0, parsed.head.size))};
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::server, "callready-respond");
  res.set(http::field::content_type, proxy::kEchoContentType);
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::connection, "close");
  res.body() = proxy::encode_echo(report);
  return serialize(res);
}

namespace {

class HttpEchoService : public std::enable_shared_from_this<HttpEchoService> {
 public:
  HttpEchoService(asio::io_context& io, respond::ResponderLog log, std::shared_ptr<proxy::EchoIdentity> tls)
      : io_(io), log_(log), tls_(std::move(tls)), limiter_(kConnectsPerSecond), faults_(label(), log) {}
  std::string start(const respond::ResponderOptions& opts, const std::vector<net::PortRange>& ports);
  void stop() {
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
  }
  std::string label() const { return tls_ ? "HTTPS echo" : "HTTP echo"; }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<HttpEchoService> self, tcp::acceptor* acc);
  static asio::awaitable<void> session(std::shared_ptr<HttpEchoService> self, std::shared_ptr<tcp::socket> sock,
                                       std::unique_ptr<respond::TcpSessionGuard> guard);
  template <class Stream>
  static asio::awaitable<void> exchange(std::shared_ptr<HttpEchoService> self, Stream& stream, tcp::endpoint peer);
  std::optional<std::string> answer(std::string_view received, const tcp::endpoint& peer) {
    try {
      return http_echo_answer(received, peer.address(), peer.port(), proxy::served_echo_pin());
    } catch (const std::exception& e) {
      faults_.caught(e.what(), Clock::now());
      return std::string();
    }
  }

  asio::io_context& io_;
  respond::ResponderLog log_;
  std::shared_ptr<proxy::EchoIdentity> tls_;  // null: plain HTTP
  respond::RateLimiter limiter_;
  respond::LoopFaults faults_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  respond::TcpConnectionLimits limits_{kMaxConnections, kPerSource};
};

std::string HttpEchoService::start(const respond::ResponderOptions& opts, const std::vector<net::PortRange>& ports) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(opts.bind_address, ec);
  if (ec) return label() + ": bad bind address \"" + opts.bind_address + "\"";
  for (const auto& r : ports)
    for (unsigned p = r.first; p <= r.last && p != 0; ++p) {
      tcp::endpoint ep(address, static_cast<unsigned short>(p));
      auto acc = std::make_unique<tcp::acceptor>(io_);
      acc->open(ep.protocol(), ec);
      if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acc->bind(ep, ec);
      if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
      if (ec)
        return label() + ": cannot listen on TCP " + net::format_host_port(address, ep.port()) + ": " + ec.message();
      acceptors_.push_back(std::move(acc));
    }
  auto self = shared_from_this();
  for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(self, a.get()), asio::detached);
  if (log_) {
    std::string line = label() + " on " + std::to_string(acceptors_.size()) + " port(s)";
    if (tls_) line += "; key pin_sha256 " + tls_->pin;
    log_("info", line);
  }
  return "";
}

asio::awaitable<void> HttpEchoService::accept_loop(std::shared_ptr<HttpEchoService> self, tcp::acceptor* acc) {
  auto serve = [self](std::shared_ptr<tcp::socket> sock, std::unique_ptr<respond::TcpSessionGuard> guard) {
    boost::system::error_code ec;
    auto peer = sock->remote_endpoint(ec);
    if (ec || !self->limiter_.allow(peer.address(), respond::RateLimiter::Clock::now())) return;  // closes here
    asio::co_spawn(self->io_, session(self, std::move(sock), std::move(guard)), asio::detached);
  };
  // Named first: a temporary inside co_await's arguments is a GCC 12 trap.
  std::string label = self->label();
  co_await respond::accept_connections(*acc, self->limits_, label, self->log_, kIdle, std::move(serve));
}

// The guard closes the connection kIdle after it was accepted: receiving does
// not extend it (guard->received() is never called), so the handshake and the
// whole head must come within kIdle.
asio::awaitable<void> HttpEchoService::session(std::shared_ptr<HttpEchoService> self, std::shared_ptr<tcp::socket> sock,
                                               std::unique_ptr<respond::TcpSessionGuard> guard) {
  boost::system::error_code ec;
  auto peer = sock->remote_endpoint(ec);
  if (!ec) {
    if (self->tls_) {
      asio::ssl::stream<tcp::socket&> stream(*sock, self->tls_->context);
      auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
      if (!hec) co_await exchange(self, stream, peer);
    } else {
      co_await exchange(self, *sock, peer);
    }
  }
  sock->close(ec);
}

template <class Stream>
asio::awaitable<void> HttpEchoService::exchange(std::shared_ptr<HttpEchoService> self, Stream& stream,
                                                tcp::endpoint peer) {
  std::string received;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(chunk), kUseTuple);
    if (rec) co_return;
    received.append(chunk.data(), n);  // no touch(): the whole request must come within kIdle
    auto out = self->answer(received, peer);
    if (!out) continue;
    if (self->log_)
      self->log_("debug", self->label() + " " + std::to_string(received.size()) + " bytes from " +
                              net::format_host_port(peer.address(), peer.port()));
    if (!out->empty()) co_await asio::async_write(stream, asio::buffer(*out), kUseTuple);
    co_return;
  }
}

struct EchoHandle : respond::RunningService {
  explicit EchoHandle(std::shared_ptr<HttpEchoService> s) : service(std::move(s)) {}
  void stop() override { service->stop(); }
  // The control channel's question "which key do you serve?": the check
  // learns the pin over a path TLS inspection does not touch.
  void request(const nlohmann::json& req, const std::string&, respond::ServiceReply reply) override {
    if (!req.is_object() || req.value("op", "") != "pin") return reply({{"error", "unknown_op"}});
    auto pin = proxy::served_echo_pin();
    if (pin.empty()) return reply({{"error", "no_tls"}});
    reply({{"pin_sha256", pin}});
  }
  std::shared_ptr<HttpEchoService> service;
};

respond::ServiceKind echo_kind(bool tls) {
  respond::ServiceKind k;
  k.name = tls ? "https_echo" : "http_echo";
  k.flag = tls ? "--https-ports" : "--http-ports";
  k.help = tls ? "HTTPS echo ports (TCP, TLS with a self-signed key; proxy)"
               : "HTTP echo ports (TCP; proxy: returns the request head as it arrived)";
  k.sockets_per_port = 2;
  k.start = [tls](respond::ServiceHost& host, const std::vector<net::PortRange>& ports,
                  std::string& error) -> std::unique_ptr<respond::RunningService> {
    std::shared_ptr<proxy::EchoIdentity> identity;
    if (tls && !(identity = proxy::echo_identity(error))) return nullptr;
    auto service = std::make_shared<HttpEchoService>(host.io, host.log, std::move(identity));
    error = service->start(host.options, ports);
    if (!error.empty()) return nullptr;
    return std::make_unique<EchoHandle>(std::move(service));
  };
  return k;
}

}  // namespace

respond::ServiceKind http_echo_service() { return echo_kind(false); }
respond::ServiceKind https_echo_service() { return echo_kind(true); }

}  // namespace callready::checks
