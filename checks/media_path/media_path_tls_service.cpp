#include "checks/media_path/media_path_tls_service.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <memory>
#include <vector>

#include "checks/common/framed_echo.hpp"
#include "probe/net/host_port.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/session_log.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::checks {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using respond::SessionLog;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* c) const { X509_free(c); }
};

// A P-256 key and a self-signed certificate for it, valid from an hour ago
// for a year; empty string on success, else what failed.
std::string make_identity(std::unique_ptr<EVP_PKEY, PkeyFree>& key, std::unique_ptr<X509, X509Free>& cert) {
  key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return "generate the TLS key";
  cert.reset(X509_new());
  if (!cert) return "create the TLS certificate";
  X509_set_version(cert.get(), 2);
  std::uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("callready responder"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return "sign the TLS certificate";
  return {};
}

struct TlsEchoStats {
  std::uint64_t accepted = 0, handshakes_failed = 0, answered = 0, closed_bad = 0;
};

class TlsEchoService : public std::enable_shared_from_this<TlsEchoService> {
 public:
  explicit TlsEchoService(respond::ServiceHost& host)
      : host_(host), limiter_(host.options.max_pps), tls_(ssl::context::tls_server) {}

  std::string start(const std::vector<net::PortRange>& ranges) {
    if (auto err = set_up_tls(); !err.empty()) return "TLS: " + err;
    return framed::listen_all(host_, ranges, "TLS", acceptors_, {}, [this](tcp::acceptor& a, std::uint16_t port) {
      asio::co_spawn(host_.io, accept_loop(shared_from_this(), &a, port), asio::detached);
    });
  }

  void stop() {
    stopped_ = true;
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
    for (auto& [raw, weak] : sockets_)
      if (auto s = weak.lock()) s->close(ec);
  }

  void housekeeping(Clock::time_point now) { limiter_.forget_idle(now); }

  std::string summary() const {
    return fmt::format(
        "{} TLS connections accepted, {} refused (limits), {} handshakes failed, {} framed probes answered, {} "
        "closed on bad input",
        stats_.accepted, limits_.refused, stats_.handshakes_failed, stats_.answered, stats_.closed_bad);
  }

 private:
  std::string set_up_tls() {
    std::unique_ptr<EVP_PKEY, PkeyFree> key;
    std::unique_ptr<X509, X509Free> cert;
    if (auto err = make_identity(key, cert); !err.empty()) return err;
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (SSL_CTX_use_certificate(tls_.native_handle(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(tls_.native_handle(), key.get()) != 1)
      return "load the certificate";
    return {};
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<TlsEchoService> self, tcp::acceptor* a, std::uint16_t port) {
    auto serving = respond::accept_connections(
        *a, self->limits_, "tls_echo", self->host_.log, TlsEchoLimits::kIdle,
        [self, port](std::shared_ptr<tcp::socket> sock, std::unique_ptr<respond::TcpSessionGuard> guard) {
          if (self->stopped_) return;
          boost::system::error_code ignored;
          auto peer = sock->remote_endpoint(ignored);
          if (ignored) return;
          ++self->stats_.accepted;
          self->host_.sessions.record("tls-connect", peer.address(), 0, peer.port(), port,
                                      SessionLog::Outcome::accepted, Clock::now());
          sock->set_option(tcp::no_delay(true), ignored);
          self->sockets_[sock.get()] = sock;
          asio::co_spawn(self->host_.io, serve(self, std::move(sock), std::move(guard), peer, port), asio::detached);
        });
    co_await std::move(serving);
    co_return;
  }

  // Handshake, then frames until the peer closes, a frame is bad, or the idle clock runs out.
  static asio::awaitable<void> serve(std::shared_ptr<TlsEchoService> self, std::shared_ptr<tcp::socket> sock,
                                     std::unique_ptr<respond::TcpSessionGuard> guard, tcp::endpoint peer,
                                     std::uint16_t port) {
    {
      ssl::stream<tcp::socket&> stream(*sock, self->tls_);
      auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
      if (hec) {
        ++self->stats_.handshakes_failed;
        self->host_.log("debug", "tls_echo: handshake with " + net::format_host_port(peer.address(), peer.port()) +
                                     " failed: " + hec.message());
      } else {
        guard->received();
        co_await answer_frames(self, stream, *guard, peer, port);
      }
    }
    boost::system::error_code ec;
    sock->close(ec);
    self->sockets_.erase(sock.get());
  }

  static asio::awaitable<void> answer_frames(std::shared_ptr<TlsEchoService> self, ssl::stream<tcp::socket&>& stream,
                                             respond::TcpSessionGuard& guard, tcp::endpoint peer, std::uint16_t port) {
    std::vector<std::uint8_t> buf(echo::kMaxDatagram);
    for (;;) {
      auto reading = framed::read_frame(stream, buf);
      auto frame = co_await std::move(reading);
      if (frame.error == asio::error::invalid_argument) ++self->stats_.closed_bad;
      if (!frame.ok()) co_return;
      guard.received();
      auto now = Clock::now();
      if (!self->limiter_.allow(peer.address(), now)) continue;  // dropped, as over UDP
      echo::Request request;
      if (echo::decode_request({buf.data(), frame.length}, self->host_.options.token, request) !=
          echo::DecodeError::none) {
        ++self->stats_.closed_bad;
        co_return;
      }
      self->host_.sessions.record("tls-echo", peer.address(), request.session, peer.port(), port,
                                  SessionLog::Outcome::answered, now);
      echo::Observation seen{asio::ip::udp::endpoint(peer.address(), peer.port()), 0, echo::now_us(),
                             static_cast<std::uint16_t>(frame.length)};
      echo::ReplyMarks marks;
      marks.tcp = true;  // reply_tos / reply_delay_ms are not honoured inside TLS
      auto reply = framed::framed_reply(request, seen, self->host_.options.token, marks);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(reply), kUseTuple);
      if (wec) co_return;
      ++self->stats_.answered;
    }
  }

  respond::ServiceHost& host_;
  respond::RateLimiter limiter_;
  ssl::context tls_;
  TlsEchoStats stats_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  respond::TcpConnectionLimits limits_{TlsEchoLimits::kMaxConnections, TlsEchoLimits::kMaxConnectionsPerSource};
  std::map<tcp::socket*, std::weak_ptr<tcp::socket>> sockets_;  // open connections, closed on stop()
  bool stopped_ = false;
};

}  // namespace

respond::ServiceKind tls_echo_service() {
  return framed::service_kind<TlsEchoService>(
      "tls_echo", "--tls-ports",
      "TLS ports (no SNI needed, self-signed): answer RFC 4571-framed echo probes inside TLS");
}

}  // namespace callready::checks
