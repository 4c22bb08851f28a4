// The responder's SIP mirror: UDP and TCP on every port of --sip-ports. Each request is answered like a stateless
// proxy/registrar would (200 OK; 488 Not Acceptable Here for INVITE, which ends the transaction without a dialog;
// nothing for ACK) with Via ;received=;rport= filled in, and the request exactly as it arrived in the body
// (sip_codec.hpp: Content-Type application/x-callready-mirror, deflate+base64,
// so ALGs find no address to rewrite in it).
//
// Never an amplifier:
//  - requests larger than sip::kMaxMessageBytes (8 KiB) are dropped;
//  - with --token, only requests whose X-Callready-Auth header verifies
//    (sip_codec.hpp) are answered, and a response is never larger than its
//    request (the client pads with X-Callready-Pad); without a token a
//    response is at most 1.5x its request, the service warns at start that it
//    is an open reflector and caps its answers per second in total. When the
//    mirror would break the bound it is left out, and when even the bare
//    response would, nothing is sent;
//  - every source address is rate-limited (kRequestsPerSecond);
//  - nothing is sent for bytes that do not parse as a SIP request.
#include "checks/sip_alg/sip_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <random>

#include "checks/sip_alg/sip_codec.hpp"
#include "probe/clock.hpp"
#include "probe/net/host_port.hpp"
#include "probe/respond/loop_faults.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/service.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::checks {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using respond::RateLimiter;
using respond::ResponderLog;
using respond::ResponderOptions;
using respond::RunningService;
using respond::ServiceHost;
using respond::ServiceKind;
using respond::TcpSessionGuard;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kRequestsPerSecond = 50;
// Without a token: answers per second, all sources and ports together.
constexpr int kOpenAnswersPerSecond = 500;

std::string tag() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng() % 100000000000ULL);
}

}  // namespace

std::string sip_mirror_answer(std::string_view raw, bool datagram, const asio::ip::address& source,
                              unsigned short source_port, const MirrorPolicy& policy) {
  auto parsed = sip::parse(raw, datagram);
  if (parsed.status != sip::ParseStatus::ok || !parsed.message.is_request) return "";
  const auto& req = parsed.message;
  if (req.method == "ACK") return "";  // never answered (RFC 3261 17.2.1)
  if (!policy.token.empty()) {
    const std::string* auth = req.header(sip::kAuthHeader);
    if (!auth || !sip::auth_verifies(*auth, policy.token, req.method, policy.now_seconds)) return "";
  }
  const std::string* call_id = req.header("Call-ID");
  const std::string* cseq = req.header("CSeq");
  auto vias = req.all("Via");
  if (!call_id || !cseq || vias.empty() || !req.header("From") || !req.header("To")) return "";

  sip::Message res;
  res.is_request = false;
  bool invite = req.method == "INVITE";
  res.status = invite ? 488 : 200;
  res.reason = invite ? "Not Acceptable Here" : "OK";
  // What a real proxy does with the top Via (RFC 3261 18.2.1, RFC 3581).
  std::string append = ";received=" + source.to_string();
  if (sip::header_param(vias.front(), "rport")) append += ";rport=" + std::to_string(source_port);
  vias.front() = sip::replace_params(vias.front(), {"received", "rport"}, append);
  for (auto& v : vias) res.headers.push_back({"Via", v});
  res.headers.push_back({"From", *req.header("From")});
  std::string to = *req.header("To");
  if (!sip::header_param(to, "tag")) to += ";tag=" + tag();
  res.headers.push_back({"To", to});
  res.headers.push_back({"Call-ID", *call_id});
  res.headers.push_back({"CSeq", *cseq});
  res.headers.push_back({"Server", "callready-respond"});
  std::string bare = sip::serialize(res);
  res.headers.push_back({"Content-Type", sip::kMirrorContentType});
  res.body = sip::encode_mirror({source.to_string(), source_port, std::string(raw.substr(0, parsed.consumed))});
  std::string full = sip::serialize(res);
  std::size_t bound = policy.token.empty() ? raw.size() * 3 / 2 : raw.size();
  if (full.size() <= bound) return full;
  if (bare.size() <= bound) return bare;
  return "";
}

namespace {

class SipService : public std::enable_shared_from_this<SipService> {
 public:
  SipService(asio::io_context& io, const ResponderOptions& opts, ResponderLog log)
      : io_(io),
        log_(log),
        token_(opts.token),
        limiter_(kRequestsPerSecond),
        open_cap_(kOpenAnswersPerSecond),
        faults_("SIP mirror", log) {}
  std::string start(const ResponderOptions& opts, const std::vector<net::PortRange>& ports);
  void stop();
  std::string summary() const {
    return "SIP " + std::to_string(answered_) + " answered, " + std::to_string(unanswered_) + " not answered, " +
           std::to_string(capped_) + " over the rate caps, " + std::to_string(tcp_limits_.refused) +
           " TCP connections refused";
  }

 private:
  bool allow(const asio::ip::address& a) {
    bool ok = limiter_.allow(a, RateLimiter::Clock::now());
    if (!ok) ++capped_;
    return ok;
  }
  // The answer, or "" when `raw` gets none; never throws (a bad request is
  // counted and logged, and the loop goes on). An open service spends its
  // total cap on answers only, so junk cannot use it up.
  std::string answer(std::string_view raw, bool datagram, const asio::ip::address& source, unsigned short port) {
    std::string out;
    try {
      MirrorPolicy policy{
          token_, std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                      .count()};
      out = sip_mirror_answer(raw, datagram, source, port, policy);
    } catch (const std::exception& e) {
      faults_.caught(e.what(), Clock::now());
      return "";
    }
    if (out.empty()) {
      ++unanswered_;
    } else if (token_.empty() && !open_cap_.allow(Clock::now())) {
      ++capped_;
      return "";
    } else {
      ++answered_;
    }
    return out;
  }
  void debug(const std::string& line) {
    if (log_) log_("debug", line);
  }
  static asio::awaitable<void> udp_loop(std::shared_ptr<SipService> self, udp::socket* sock);
  static asio::awaitable<void> accept_loop(std::shared_ptr<SipService> self, tcp::acceptor* acc);
  static asio::awaitable<void> tcp_session(std::shared_ptr<SipService> self, std::shared_ptr<tcp::socket> sock,
                                           std::unique_ptr<TcpSessionGuard> guard);

  asio::io_context& io_;
  ResponderLog log_;
  std::string token_;
  RateLimiter limiter_;
  respond::GlobalRateLimiter open_cap_;
  respond::LoopFaults faults_;
  std::vector<std::unique_ptr<udp::socket>> udp_;
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_;
  respond::TcpConnectionLimits tcp_limits_;
  std::uint64_t answered_ = 0, unanswered_ = 0, capped_ = 0;
};

std::string SipService::start(const ResponderOptions& opts, const std::vector<net::PortRange>& ports) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(opts.bind_address, ec);
  if (ec) return "SIP: bad bind address \"" + opts.bind_address + "\"";
  for (const auto& r : ports)
    for (unsigned p = r.first; p <= r.last && p != 0; ++p) {
      udp::endpoint uep(address, static_cast<unsigned short>(p));
      auto us = std::make_unique<udp::socket>(io_);
      us->open(uep.protocol(), ec);
      if (!ec) us->bind(uep, ec);
      if (ec) return "SIP: cannot bind UDP " + net::format_host_port(address, uep.port()) + ": " + ec.message();
      udp_.push_back(std::move(us));
      tcp::endpoint tep(address, uep.port());
      auto acc = std::make_unique<tcp::acceptor>(io_);
      acc->open(tep.protocol(), ec);
      if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acc->bind(tep, ec);
      if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return "SIP: cannot listen on TCP " + net::format_host_port(address, uep.port()) + ": " + ec.message();
      tcp_.push_back(std::move(acc));
    }
  if (udp_.empty()) return "";
  auto self = shared_from_this();
  for (auto& s : udp_) asio::co_spawn(io_, udp_loop(self, s.get()), asio::detached);
  for (auto& a : tcp_) asio::co_spawn(io_, accept_loop(self, a.get()), asio::detached);
  if (log_) {
    log_("info", "SIP mirror on " + std::to_string(udp_.size()) + " port(s) over UDP and TCP" +
                     (token_.empty() ? "" : ", authenticated requests only"));
    if (token_.empty())
      log_("warn",
           "SIP mirror: no --token, so this is an open reflector: anyone (and any spoofed source) gets "
           "answers up to 1.5x the request, up to " +
               std::to_string(kOpenAnswersPerSecond) + " per second in total; set --token on a public address");
  }
  return "";
}

asio::awaitable<void> SipService::udp_loop(std::shared_ptr<SipService> self, udp::socket* sock) {
  std::vector<char> buf(65536);
  udp::endpoint from;
  for (;;) {
    auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), from, kUseTuple);
    if (ec == asio::error::operation_aborted || !sock->is_open()) co_return;
    if (ec || n > sip::kMaxMessageBytes || !self->allow(from.address())) continue;
    auto out = self->answer(std::string_view(buf.data(), n), true, from.address(), from.port());
    self->debug("SIP/UDP " + std::to_string(n) + " bytes from " + net::format_host_port(from.address(), from.port()) +
                (out.empty() ? ": not answered" : ": answered with " + std::to_string(out.size()) + " bytes"));
    if (out.empty()) continue;
    boost::system::error_code send_ec;
    sock->send_to(asio::buffer(out), from, 0, send_ec);
  }
}

asio::awaitable<void> SipService::accept_loop(std::shared_ptr<SipService> self, tcp::acceptor* acc) {
  // Arguments named first: GCC 12 miscompiles temporaries in a co_await-ed call.
  std::string name = "SIP/TCP";
  respond::ConnectionHandler serve = [self](std::shared_ptr<tcp::socket> sock, std::unique_ptr<TcpSessionGuard> guard) {
    asio::co_spawn(self->io_, tcp_session(self, std::move(sock), std::move(guard)), asio::detached);
  };
  Clock::duration idle = respond::kTcpIdleLimit;
  co_await respond::accept_connections(*acc, self->tcp_limits_, name, self->log_, idle, serve);
}

// Messages back to back on the stream, framed by Content-Length (RFC 3261 18.3);
// bare CRLFs between them are keep-alives (RFC 5626 3.5.1) and skipped.
asio::awaitable<void> SipService::tcp_session(std::shared_ptr<SipService> self, std::shared_ptr<tcp::socket> sock,
                                              std::unique_ptr<TcpSessionGuard> guard) {
  boost::system::error_code ec;
  auto peer = sock->remote_endpoint(ec);
  if (ec) co_return;
  std::string pending;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [rec, n] = co_await sock->async_read_some(asio::buffer(chunk), kUseTuple);
    if (rec) break;
    guard->received();
    pending.append(chunk.data(), n);
    bool close = false;
    for (;;) {
      while (pending.starts_with("\r\n")) pending.erase(0, 2);
      if (pending.empty()) break;
      auto parsed = sip::parse(pending, false);
      if (parsed.status == sip::ParseStatus::incomplete) break;
      if (parsed.status == sip::ParseStatus::invalid) {
        self->debug("SIP/TCP closing " + net::format_host_port(peer.address(), peer.port()) + ": " + parsed.error);
        close = true;
        break;
      }
      std::string raw = pending.substr(0, parsed.consumed);
      pending.erase(0, parsed.consumed);
      if (!self->allow(peer.address())) continue;
      auto out = self->answer(raw, false, peer.address(), peer.port());
      if (out.empty()) continue;
      auto [wec, wn] = co_await asio::async_write(*sock, asio::buffer(out), kUseTuple);
      if (wec) {
        close = true;
        break;
      }
    }
    if (close) break;
  }
  sock->close(ec);
}

}  // namespace

void SipService::stop() {
  boost::system::error_code ec;
  for (auto& s : udp_) s->close(ec);
  for (auto& a : tcp_) a->close(ec);
}

// The loops share the service (shared_from_this); the host holds this handle.
struct SipServiceHandle : RunningService {
  explicit SipServiceHandle(std::shared_ptr<SipService> s) : service(std::move(s)) {}
  void stop() override { service->stop(); }
  std::string summary() const override { return service->summary(); }
  std::shared_ptr<SipService> service;
};

ServiceKind sip_mirror_service() {
  ServiceKind k;
  k.name = "sip";
  k.flag = "--sip-ports";
  k.help = "SIP mirror ports (UDP and TCP)";
  k.sockets_per_port = 4;
  k.start = [](ServiceHost& host, const std::vector<net::PortRange>& ports,
               std::string& error) -> std::unique_ptr<RunningService> {
    auto service = std::make_shared<SipService>(host.io, host.options, host.log);
    error = service->start(host.options, ports);
    if (!error.empty()) return nullptr;
    return std::make_unique<SipServiceHandle>(std::move(service));
  };
  return k;
}

}  // namespace callready::checks
