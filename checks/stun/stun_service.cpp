// The responder's STUN server: Binding over UDP and TCP on every STUN port;
// with an alternate address also RFC 5780 (as coturn lays it out: ports P and
// P+1 on both addresses, OTHER-ADDRESS = the other address and port).
//
// Never an amplifier:
//  - nothing is sent for bytes that do not parse as a Binding request;
//  - every source is rate-limited (a fixed hashed table, probe/respond/rate_limiter.hpp);
//  - with --token, only requests that carry MESSAGE-INTEGRITY keyed with the
//    token (RFC 5389 short-term credential: USERNAME "callready", password =
//    the token; see stun_client.hpp) are answered, unauthenticated ones get
//    silence (no 401: that would be an oracle and a reflector), every answer
//    is signed and at most as large as its request (the client pads with RFC
//    5780 PADDING; an answer that would be larger loses MAPPED-ADDRESS and
//    SOFTWARE, then is not sent), and only then are RESPONSE-PORT and
//    CHANGE-REQUEST honoured;
//  - without --token the service is an open reflector by the operator's
//    choice: it says so at start and caps its answers per second in total.
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
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "checks/stun/stun_codec.hpp"
#include "probe/clock.hpp"
#include "probe/respond/loop_faults.hpp"
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
// Without a token: answers per second, all sources and ports together.
constexpr int kOpenAnswersPerSecond = 1000;

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
      : io_(io), log_(std::move(log)), limiter_(opts.max_pps), open_cap_(kOpenAnswersPerSecond), faults_("STUN", log_) {
    if (!opts.token.empty()) key_ = stun::short_term_key(opts.token);
  }

  std::string start(const ResponderOptions& opts, const std::vector<net::PortRange>& ports);
  std::string summary() const {
    return "STUN " + std::to_string(answered_) + " answered, " + std::to_string(unauthenticated_) +
           " unauthenticated, " + std::to_string(too_large_) + " not answered (answer larger than request), " +
           std::to_string(capped_) + " over the rate caps, " + std::to_string(tcp_limits_.refused) +
           " TCP connections refused";
  }
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
  std::optional<Reply> answer_authenticated(const stun::Message& req, std::size_t request_size,
                                            const udp::endpoint& from, Arrival at);
  // The per-source limit, before anything is parsed.
  bool allow(const asio::ip::address& source) {
    bool ok = limiter_.allow(source, Clock::now());
    if (!ok) ++capped_;
    return ok;
  }
  // answer() that counts an escaped exception instead of ending the loop, and
  // (open service) spends the total cap on answers only, so junk cannot use it up.
  std::optional<Reply> safe_answer(stun::ByteView packet, const udp::endpoint& from, Arrival at) {
    std::optional<Reply> reply;
    try {
      reply = answer(packet, from, at);
    } catch (const std::exception& e) {
      faults_.caught(e.what(), Clock::now());
      return std::nullopt;
    }
    if (reply && key_.empty() && !open_cap_.allow(Clock::now())) {
      ++capped_;
      return std::nullopt;
    }
    return reply;
  }
  // Each loop holds `self`: the service lives as long as one of its loops.
  static asio::awaitable<void> udp_loop(std::shared_ptr<StunService> self, udp::socket* sock, Arrival at);
  static asio::awaitable<void> accept_loop(std::shared_ptr<StunService> self, tcp::acceptor* acc, Arrival at);
  static asio::awaitable<void> tcp_session(std::shared_ptr<StunService> self, std::shared_ptr<tcp::socket> sock,
                                           std::unique_ptr<respond::TcpSessionGuard> guard, Arrival at);
  void debug(const std::string& line) {
    if (log_) log_("debug", line);
  }

  asio::io_context& io_;
  ResponderLog log_;
  respond::RateLimiter limiter_;
  respond::GlobalRateLimiter open_cap_;
  respond::LoopFaults faults_;
  stun::Bytes key_;  // MESSAGE-INTEGRITY key from --token; empty: open
  std::uint64_t answered_ = 0, unauthenticated_ = 0, too_large_ = 0, capped_ = 0;
  std::vector<asio::ip::address> ips_;  // [primary] or [primary, alternate]
  std::set<unsigned short> base_ports_;
  std::map<std::pair<int, unsigned short>, std::unique_ptr<udp::socket>> udp_;
  std::map<std::pair<int, unsigned short>, std::unique_ptr<tcp::acceptor>> tcp_;
  respond::TcpConnectionLimits tcp_limits_;
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
  if (log_) {
    log_("info", "STUN on " + std::to_string(base_ports_.size()) + " port(s) over UDP and TCP" +
                     (ips_.size() > 1 ? ", RFC 5780 with alternate " + ips_[1].to_string() : "") +
                     (key_.empty() ? "" : ", authenticated requests only"));
    if (key_.empty())
      log_("warn",
           "STUN: no --token, so this is an open reflector: anyone (and any spoofed source) gets answers, "
           "up to " +
               std::to_string(kOpenAnswersPerSecond) +
               " per second in total; set --token on a "
               "public address");
  }
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
  if (!key_.empty() && !stun::verify_message_integrity(req, key_)) {
    ++unauthenticated_;
    debug("STUN: dropped an unauthenticated request from " + stun::to_string(from));
    return std::nullopt;
  }
  auto reply = answer_authenticated(req, packet.size(), from, at);
  if (reply) ++answered_;
  return reply;
}

// `req` is authenticated, or the service is open.
std::optional<Reply> StunService::answer_authenticated(const stun::Message& req, std::size_t request_size,
                                                       const udp::endpoint& from, Arrival at) {
  const bool signed_answers = !key_.empty();
  Reply reply{{}, at.ip_index, at.port, from};
  auto unknown = req.unknown_comprehension_required();
  stun::ChangeRequest change;
  if (const auto* a = req.find(stun::attr::change_request)) change = stun::read_change_request(*a).value_or(change);
  // A change we cannot make is answered like an attribute we do not know (RFC 5780 §6.1).
  if ((change.change_ip || change.change_port) && (ips_.size() < 2 || at.tcp))
    unknown.push_back(stun::attr::change_request);
  // `lean`: without MAPPED-ADDRESS and SOFTWARE, for an answer that must fit its request.
  auto finish = [&](stun::Builder& b, bool lean) {
    if (!lean) b.add_string(stun::attr::software, kSoftware);
    if (signed_answers) b.add_message_integrity(key_);
    return b.add_fingerprint().bytes();
  };
  std::function<stun::Bytes(bool)> build;
  if (!unknown.empty()) {
    build = [&](bool lean) {
      stun::Builder b(stun::kBinding, stun::MessageClass::error, req.transaction_id);
      b.add_error_code(420, "Unknown Attribute").add_unknown_attributes(unknown);
      return finish(b, lean);
    };
  } else {
    if (change.change_ip) reply.ip_index ^= 1;
    if (change.change_port) reply.port = partner_port(at.port);
    if (const auto* a = req.find(stun::attr::response_port); a && !at.tcp)
      if (auto p = stun::read_response_port(*a); p && *p != 0) reply.to.port(*p);  // same IP only: no reflection
    build = [&](bool lean) {
      stun::Builder b(stun::kBinding, stun::MessageClass::success, req.transaction_id);
      b.add_xor_address(stun::attr::xor_mapped_address, from);
      if (!lean) b.add_address(stun::attr::mapped_address, from);
      if (ips_.size() > 1) {
        b.add_address(stun::attr::response_origin, udp::endpoint(ips_[reply.ip_index], reply.port));
        b.add_address(stun::attr::other_address, udp::endpoint(ips_[at.ip_index ^ 1], partner_port(at.port)));
      }
      return finish(b, lean);
    };
  }
  reply.bytes = build(false);
  if (!signed_answers || reply.bytes.size() <= request_size) return reply;
  reply.bytes = build(true);
  if (reply.bytes.size() <= request_size) return reply;
  ++too_large_;
  debug("STUN: not answering " + stun::to_string(from) + ": a " + std::to_string(request_size) +
        "-byte request would get " + std::to_string(reply.bytes.size()) + " bytes (the client pads with PADDING)");
  return std::nullopt;
}

asio::awaitable<void> StunService::udp_loop(std::shared_ptr<StunService> self, udp::socket* sock, Arrival at) {
  std::array<std::uint8_t, 1500> buf;
  udp::endpoint from;
  for (;;) {
    auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), from, kUseTuple);
    if (ec == asio::error::operation_aborted || !sock->is_open()) co_return;
    if (ec) continue;
    if (!self->allow(from.address())) continue;
    auto reply = self->safe_answer(stun::ByteView(buf.data(), n), from, at);
    if (!reply) continue;
    auto out = self->udp_.find({reply->ip_index, reply->port});
    if (out == self->udp_.end()) continue;
    boost::system::error_code send_ec;
    out->second->send_to(asio::buffer(reply->bytes), reply->to, 0, send_ec);
    if (send_ec) self->debug("STUN: send to " + stun::to_string(reply->to) + " failed: " + send_ec.message());
  }
}

asio::awaitable<void> StunService::accept_loop(std::shared_ptr<StunService> self, tcp::acceptor* acc, Arrival at) {
  // Arguments named first: GCC 12 miscompiles temporaries in a co_await-ed call.
  std::string name = "STUN/TCP";
  respond::ConnectionHandler serve = [self, at](std::shared_ptr<tcp::socket> sock,
                                                std::unique_ptr<respond::TcpSessionGuard> guard) {
    asio::co_spawn(self->io_, tcp_session(self, std::move(sock), std::move(guard), at), asio::detached);
  };
  Clock::duration idle = respond::kTcpIdleLimit;
  co_await respond::accept_connections(*acc, self->tcp_limits_, name, self->log_, idle, serve);
}

// RFC 5389 §7.2.2: messages back to back on the stream, each framed by its own header.
asio::awaitable<void> StunService::tcp_session(std::shared_ptr<StunService> self, std::shared_ptr<tcp::socket> sock,
                                               std::unique_ptr<respond::TcpSessionGuard> guard, Arrival at) {
  boost::system::error_code ec;
  auto peer = sock->remote_endpoint(ec);
  if (ec) co_return;
  udp::endpoint from(peer.address(), peer.port());
  std::array<std::uint8_t, kMaxTcpMessage> buf;
  for (;;) {
    auto [rec, n] = co_await asio::async_read(*sock, asio::buffer(buf.data(), stun::kHeaderSize), kUseTuple);
    if (rec) break;
    guard->received();
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
      guard->received();
    }
    if (!self->allow(from.address())) continue;
    auto reply = self->safe_answer(stun::ByteView(buf.data(), frame.total), from, at);
    if (!reply) continue;
    auto [wec, wn] = co_await asio::async_write(*sock, asio::buffer(reply->bytes), kUseTuple);
    if (wec) break;
  }
  sock->close(ec);
}

}  // namespace

// The service's loops own it too (shared_from_this); the host holds this handle.
struct StunServiceHandle : respond::RunningService {
  explicit StunServiceHandle(std::shared_ptr<StunService> s) : service(std::move(s)) {}
  void stop() override { service->stop(); }
  std::string summary() const override { return service->summary(); }
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
