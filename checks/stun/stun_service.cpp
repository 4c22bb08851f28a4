// The responder's STUN server: Binding over UDP and TCP on every STUN port;
// with an alternate address also RFC 5780 (as coturn lays it out: ports P and
// P+1 on both addresses, OTHER-ADDRESS = the other address and port).
// Never an amplifier: nothing is sent for bytes that do not parse as a Binding
// request, every source is rate-limited, and a reply is never larger than a
// few dozen bytes more than the request that caused it.
#include "checks/stun/stun_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "checks/stun/stun_codec.hpp"
#include "probe/clock.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::checks {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using respond::ResponderLog;
using respond::ResponderOptions;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr const char* kSoftware = "callready";
constexpr std::size_t kMaxTcpMessage = 2048;
constexpr std::size_t kMaxTcpConnections = 256;
constexpr auto kTcpIdle = std::chrono::seconds(30);

// Where a request arrived: which of our addresses (0 primary, 1 alternate) and port.
struct Arrival {
  int ip_index = 0;
  unsigned short port = 0;
  bool tcp = false;
};

struct Reply {
  stun::Bytes bytes;
  int ip_index = 0;  // the socket to send from (UDP; CHANGE-REQUEST may move it)
  unsigned short port = 0;
  udp::endpoint to;
};

class StunService : public std::enable_shared_from_this<StunService> {
 public:
  StunService(asio::io_context& io, const ResponderOptions& opts, ResponderLog log)
      : io_(io), log_(std::move(log)), limiter_(opts.max_pps) {}

  std::string start(const ResponderOptions& opts, const std::vector<net::PortRange>& ports);
  void forget_idle(Clock::time_point now) { limiter_.forget_idle(now); }
  // Closing the sockets ends the loops, which release the service.
  void stop() {
    boost::system::error_code ec;
    for (auto& [key, sock] : udp_) sock->close(ec);
    for (auto& [key, acc] : tcp_) acc->close(ec);
  }

 private:
  std::string bind_all();
  unsigned short partner_port(unsigned short p) const {
    return base_ports_.count(p) ? static_cast<unsigned short>(p + 1) : static_cast<unsigned short>(p - 1);
  }
  std::optional<Reply> answer(stun::ByteView packet, const udp::endpoint& from, Arrival at);
  // Each loop holds `self`: the service lives as long as one of its loops.
  static asio::awaitable<void> udp_loop(std::shared_ptr<StunService> self, udp::socket* sock, Arrival at);
  static asio::awaitable<void> accept_loop(std::shared_ptr<StunService> self, tcp::acceptor* acc, Arrival at);
  static asio::awaitable<void> tcp_session(std::shared_ptr<StunService> self, std::shared_ptr<tcp::socket> sock,
                                           Arrival at);
  void debug(const std::string& line) {
    if (log_) log_("debug", line);
  }

  asio::io_context& io_;
  ResponderLog log_;
  respond::RateLimiter limiter_;
  std::vector<asio::ip::address> ips_;  // [primary] or [primary, alternate]
  std::set<unsigned short> base_ports_;
  std::map<std::pair<int, unsigned short>, std::unique_ptr<udp::socket>> udp_;
  std::map<std::pair<int, unsigned short>, std::unique_ptr<tcp::acceptor>> tcp_;
  std::size_t tcp_connections_ = 0;
};

std::string StunService::start(const ResponderOptions& opts, const std::vector<net::PortRange>& ports) {
  boost::system::error_code ec;
  auto primary = asio::ip::make_address(opts.bind_address, ec);
  if (ec) return "STUN: bad bind address \"" + opts.bind_address + "\"";
  ips_.push_back(primary);
  if (!opts.alt_address.empty()) {
    auto alt = asio::ip::make_address(opts.alt_address, ec);
    if (ec) return "STUN: bad alternate address \"" + opts.alt_address + "\"";
    // RESPONSE-ORIGIN and OTHER-ADDRESS must name real addresses, not a wildcard.
    if (primary.is_unspecified() || alt.is_unspecified())
      return "STUN: --alt-address needs a specific --bind-address (RFC 5780 names both addresses)";
    if (alt.is_v4() != primary.is_v4()) return "STUN: --alt-address and --bind-address must be the same IP family";
    if (alt == primary) return "STUN: --alt-address must differ from --bind-address";
    ips_.push_back(alt);
  }
  for (const auto& r : ports)
    for (unsigned p = r.first; p <= r.last && p != 0; ++p) {
      if (ips_.size() > 1 && p == 65535) return "STUN: port 65535 has no port+1 for RFC 5780";
      base_ports_.insert(static_cast<unsigned short>(p));
    }
  if (base_ports_.empty()) return "";
  if (auto err = bind_all(); !err.empty()) return err;
  auto self = shared_from_this();
  for (auto& [key, sock] : udp_)
    asio::co_spawn(io_, udp_loop(self, sock.get(), Arrival{key.first, key.second, false}), asio::detached);
  for (auto& [key, acc] : tcp_)
    asio::co_spawn(io_, accept_loop(self, acc.get(), Arrival{key.first, key.second, true}), asio::detached);
  if (log_)
    log_("info", "STUN on " + std::to_string(base_ports_.size()) + " port(s) over UDP and TCP" +
                     (ips_.size() > 1 ? ", RFC 5780 with alternate " + ips_[1].to_string() : ""));
  return "";
}

std::string StunService::bind_all() {
  std::set<unsigned short> ports = base_ports_;
  if (ips_.size() > 1)
    for (auto p : base_ports_) ports.insert(static_cast<unsigned short>(p + 1));
  for (int i = 0; i < static_cast<int>(ips_.size()); ++i)
    for (auto p : ports) {
      boost::system::error_code ec;
      udp::endpoint uep(ips_[i], p);
      auto us = std::make_unique<udp::socket>(io_);
      us->open(uep.protocol(), ec);
      if (!ec) us->bind(uep, ec);
      if (ec) return "STUN: cannot bind UDP " + stun::to_string(uep) + ": " + ec.message();
      udp_[{i, p}] = std::move(us);
      tcp::endpoint tep(ips_[i], p);
      auto acc = std::make_unique<tcp::acceptor>(io_);
      acc->open(tep.protocol(), ec);
      if (!ec) {
        acc->set_option(tcp::acceptor::reuse_address(true), ec);
        acc->bind(tep, ec);
        if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
      }
      if (ec) return "STUN: cannot listen on TCP " + stun::to_string(udp::endpoint(ips_[i], p)) + ": " + ec.message();
      tcp_[{i, p}] = std::move(acc);
    }
  return "";
}

std::optional<Reply> StunService::answer(stun::ByteView packet, const udp::endpoint& from, Arrival at) {
  auto parsed = stun::parse(packet);
  if (!parsed) {
    debug("STUN: dropped " + std::to_string(packet.size()) + " bytes from " + stun::to_string(from) + ": " +
          parsed.error);
    return std::nullopt;
  }
  const auto& req = *parsed.message;
  if (req.cls != stun::MessageClass::request || req.method != stun::kBinding) {
    debug("STUN: dropped a non-Binding-request from " + stun::to_string(from));
    return std::nullopt;
  }
  Reply reply{{}, at.ip_index, at.port, from};
  auto unknown = req.unknown_comprehension_required();
  stun::ChangeRequest change;
  if (const auto* a = req.find(stun::attr::change_request)) change = stun::read_change_request(*a).value_or(change);
  // A change we cannot make is answered like an attribute we do not know (RFC 5780 §6.1).
  if ((change.change_ip || change.change_port) && (ips_.size() < 2 || at.tcp))
    unknown.push_back(stun::attr::change_request);
  if (!unknown.empty()) {
    stun::Builder b(stun::kBinding, stun::MessageClass::error, req.transaction_id);
    b.add_error_code(420, "Unknown Attribute")
        .add_unknown_attributes(unknown)
        .add_string(stun::attr::software, kSoftware);
    reply.bytes = b.add_fingerprint().bytes();
    return reply;
  }
  if (change.change_ip) reply.ip_index ^= 1;
  if (change.change_port) reply.port = partner_port(at.port);
  if (const auto* a = req.find(stun::attr::response_port); a && !at.tcp)
    if (auto p = stun::read_response_port(*a); p && *p != 0) reply.to.port(*p);  // same IP only: no reflection

  stun::Builder b(stun::kBinding, stun::MessageClass::success, req.transaction_id);
  b.add_xor_address(stun::attr::xor_mapped_address, from).add_address(stun::attr::mapped_address, from);
  if (ips_.size() > 1) {
    b.add_address(stun::attr::response_origin, udp::endpoint(ips_[reply.ip_index], reply.port));
    b.add_address(stun::attr::other_address, udp::endpoint(ips_[at.ip_index ^ 1], partner_port(at.port)));
  }
  b.add_string(stun::attr::software, kSoftware).add_fingerprint();
  reply.bytes = b.bytes();
  return reply;
}

asio::awaitable<void> StunService::udp_loop(std::shared_ptr<StunService> self, udp::socket* sock, Arrival at) {
  std::array<std::uint8_t, 1500> buf;
  udp::endpoint from;
  for (;;) {
    auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), from, kUseTuple);
    if (ec == asio::error::operation_aborted || !sock->is_open()) co_return;
    if (ec) continue;
    if (!self->limiter_.allow(from.address(), Clock::now())) continue;
    auto reply = self->answer(stun::ByteView(buf.data(), n), from, at);
    if (!reply) continue;
    auto out = self->udp_.find({reply->ip_index, reply->port});
    if (out == self->udp_.end()) continue;
    boost::system::error_code send_ec;
    out->second->send_to(asio::buffer(reply->bytes), reply->to, 0, send_ec);
    if (send_ec) self->debug("STUN: send to " + stun::to_string(reply->to) + " failed: " + send_ec.message());
  }
}

asio::awaitable<void> StunService::accept_loop(std::shared_ptr<StunService> self, tcp::acceptor* acc, Arrival at) {
  for (;;) {
    auto sock = std::make_shared<tcp::socket>(self->io_);
    auto [ec] = co_await acc->async_accept(*sock, kUseTuple);
    if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
    if (ec) continue;
    if (self->tcp_connections_ >= kMaxTcpConnections) {
      self->debug("STUN: TCP connection limit reached, closing one");
      continue;  // the socket closes as it goes out of scope
    }
    asio::co_spawn(self->io_, tcp_session(self, std::move(sock), at), asio::detached);
  }
}

// RFC 5389 §7.2.2: messages back to back on the stream, each framed by its own header.
asio::awaitable<void> StunService::tcp_session(std::shared_ptr<StunService> self, std::shared_ptr<tcp::socket> sock,
                                               Arrival at) {
  boost::system::error_code ec;
  auto peer = sock->remote_endpoint(ec);
  if (ec) co_return;
  udp::endpoint from(peer.address(), peer.port());
  respond::TcpSessionGuard guard(self->tcp_connections_, sock, kTcpIdle);
  std::array<std::uint8_t, kMaxTcpMessage> buf;
  for (;;) {
    auto [rec, n] = co_await asio::async_read(*sock, asio::buffer(buf.data(), stun::kHeaderSize), kUseTuple);
    if (rec) break;
    auto frame = stun::frame_length(stun::ByteView(buf.data(), stun::kHeaderSize));
    if (!frame.error.empty() || frame.total > buf.size()) {
      self->debug("STUN: closing TCP from " + stun::to_string(from) + ": " +
                  (frame.error.empty() ? "message too large" : frame.error));
      break;
    }
    if (frame.total > stun::kHeaderSize) {
      auto [rec2, n2] = co_await asio::async_read(
          *sock, asio::buffer(buf.data() + stun::kHeaderSize, frame.total - stun::kHeaderSize), kUseTuple);
      if (rec2) break;
    }
    if (!self->limiter_.allow(from.address(), Clock::now())) continue;
    auto reply = self->answer(stun::ByteView(buf.data(), frame.total), from, at);
    if (!reply) continue;
    auto [wec, wn] = co_await asio::async_write(*sock, asio::buffer(reply->bytes), kUseTuple);
    if (wec) break;
    guard.touch();
  }
  sock->close(ec);
}

}  // namespace

// The service's loops own it too (shared_from_this); the host holds this handle.
struct StunServiceHandle : respond::RunningService {
  explicit StunServiceHandle(std::shared_ptr<StunService> s) : service(std::move(s)) {}
  void stop() override { service->stop(); }
  void housekeeping(Clock::time_point now) override { service->forget_idle(now); }
  std::shared_ptr<StunService> service;
};

respond::ServiceKind stun_service() {
  respond::ServiceKind k;
  k.name = "stun";
  k.flag = "--stun-ports";
  k.help = "STUN Binding ports (UDP and TCP; RFC 5780 with --alt-address)";
  k.sockets_per_port = 8;
  k.start = [](respond::ServiceHost& host, const std::vector<net::PortRange>& ports,
               std::string& error) -> std::unique_ptr<respond::RunningService> {
    auto service = std::make_shared<StunService>(host.io, host.options, host.log);
    error = service->start(host.options, ports);
    if (!error.empty()) return nullptr;
    return std::make_unique<StunServiceHandle>(std::move(service));
  };
  return k;
}

}  // namespace callready::checks
