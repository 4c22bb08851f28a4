#include "checks/tls/wire.hpp"

#include <openssl/err.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <tuple>

#include "checks/common/trust_store.hpp"
#include "probe/clock.hpp"
#include "probe/net/errors.hpp"

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using boost::system::error_code;

namespace callready::checks::tls {

X509Ptr share_x509(X509* borrowed) {
  X509_up_ref(borrowed);
  return X509Ptr(borrowed, X509_free);
}

const char* to_string(Failure f) {
  switch (f) {
    case Failure::none:
      return "none";
    case Failure::refused:
      return "refused";
    case Failure::timeout:
      return "timeout";
    case Failure::unreachable:
      return "unreachable";
    case Failure::reset:
      return "reset";
    case Failure::closed:
      return "closed";
    case Failure::aborted:
      return "aborted";
    case Failure::local:
      return "local";
    case Failure::other:
      return "other";
    case Failure::alert:
      return "alert";
    case Failure::not_tls:
      return "not_tls";
    case Failure::plain_http:
      return "plain_http";
    case Failure::tls_error:
      return "tls_error";
  }
  return "other";
}

Failure failure_of(const error_code& ec) {
  switch (net::classify(ec)) {
    case net::NetFailure::refused:
      return Failure::refused;
    case net::NetFailure::timeout:
      return Failure::timeout;
    case net::NetFailure::unreachable:
      return Failure::unreachable;
    case net::NetFailure::reset:
      return Failure::reset;
    case net::NetFailure::closed:
      return Failure::closed;
    case net::NetFailure::aborted:
      return Failure::aborted;
    case net::NetFailure::local:
      return Failure::local;
    case net::NetFailure::other:
      break;
  }
  return Failure::other;
}

bool ended_before_tls(Failure f) {
  return f == Failure::timeout || f == Failure::reset || f == Failure::closed || f == Failure::plain_http ||
         f == Failure::not_tls;
}

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Each helper races the socket operation against a timer; a late timer means
// `timed_out`. The caller's cancellation reaches both through the operator.
asio::awaitable<error_code> timed_connect(tcp::socket& s, tcp::endpoint ep, Clock::time_point deadline) {
  Timer timer(s.get_executor());
  timer.expires_at(deadline);
  auto r = co_await (s.async_connect(ep, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) co_return asio::error::timed_out;
  co_return std::get<0>(std::get<0>(r));
}

asio::awaitable<std::tuple<error_code, std::size_t>> timed_read(tcp::socket& s, asio::mutable_buffer buf,
                                                                Clock::time_point deadline) {
  Timer timer(s.get_executor());
  timer.expires_at(deadline);
  auto r = co_await (s.async_read_some(buf, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) co_return std::make_tuple(error_code(asio::error::timed_out), std::size_t{0});
  co_return std::get<0>(r);
}

asio::awaitable<error_code> timed_write(tcp::socket& s, asio::const_buffer buf, Clock::time_point deadline) {
  Timer timer(s.get_executor());
  timer.expires_at(deadline);
  auto r = co_await (asio::async_write(s, buf, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) co_return asio::error::timed_out;
  co_return std::get<0>(std::get<0>(r));
}

std::string ssl_error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "handshake failed" : out;
}

int verify_cb(int ok, X509_STORE_CTX* sctx) {
  if (!ok) {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* res = static_cast<HandshakeResult*>(SSL_get_app_data(ssl));
    res->verify_errors.emplace_back(X509_STORE_CTX_get_error(sctx), X509_STORE_CTX_get_error_depth(sctx));
  }
  return 1;  // record every problem, judge afterwards
}

void msg_cb(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  auto* res = static_cast<HandshakeResult*>(arg);
  auto* b = static_cast<const unsigned char*>(buf);
  if (write_p || len == 0) return;
  if (content_type == SSL3_RT_HANDSHAKE && b[0] == SSL3_MT_CERTIFICATE_REQUEST) res->cert_requested = true;
  if (content_type == SSL3_RT_ALERT && len >= 2 && b[0] == SSL3_AL_FATAL) res->alert = b[1];
}

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

}  // namespace

asio::awaitable<Connection> connect_to(tcp::endpoint ep, Clock::time_point deadline) {
  Connection c;
  auto ex = co_await asio::this_coro::executor;
  c.socket = std::make_unique<tcp::socket>(ex);
  error_code ec = co_await timed_connect(*c.socket, ep, deadline);
  if (ec) {
    c.failure = failure_of(ec);
    c.message = ec == asio::error::timed_out ? "no answer to the TCP connection" : ec.message();
    c.socket.reset();
  } else {
    c.socket->set_option(tcp::no_delay(true), ec);
  }
  co_return c;
}

asio::awaitable<ProbeResult> probe_hello(tcp::endpoint ep, const Bytes& hello, Clock::time_point deadline) {
  ProbeResult out;
  Connection c = co_await connect_to(ep, deadline);
  if (!c.socket) {
    out.failure = c.failure;
    out.message = c.message;
    co_return out;
  }
  error_code ec = co_await timed_write(*c.socket, asio::buffer(hello), deadline);
  ReplyParser parser;
  std::array<std::uint8_t, 4096> buf;
  while (!ec) {
    auto [rec, n] = co_await timed_read(*c.socket, asio::buffer(buf), deadline);
    ec = rec;
    if (n > 0) out.reply = parser.feed(buf.data(), n);
    if (out.reply.kind != ServerReply::Kind::pending) break;
  }
  switch (out.reply.kind) {
    case ServerReply::Kind::server_hello:
      break;
    case ServerReply::Kind::alert:
      out.failure = Failure::alert;
      out.message = alert_name(out.reply.alert);
      break;
    case ServerReply::Kind::not_tls:
      out.failure = Failure::not_tls;
      break;
    case ServerReply::Kind::plain_http:
      out.failure = Failure::plain_http;
      break;
    case ServerReply::Kind::pending:
      out.failure = failure_of(ec);
      out.message = ec.message();
      break;
  }
  // Closing with unread data sends a reset: no TIME_WAIT left behind per probe.
  c.socket->close(ec);
  co_return out;
}

asio::awaitable<HandshakeResult> full_handshake(std::unique_ptr<tcp::socket> socket, HandshakeOptions opt,
                                                Clock::time_point deadline) {
  HandshakeResult res;
  std::unique_ptr<SSL_CTX, SslDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    res.failure = Failure::local;
    res.setup_error =
        CheckError{ErrorReason::local, Operation::handshake, "cannot create a TLS context: " + ssl_error_text()};
    co_return res;
  }
  SSL_CTX_set_security_level(ctx.get(), 0);
  // What a broad real client offers: no anonymous or null suites, so the server must show a certificate.
  SSL_CTX_set_cipher_list(ctx.get(),
                          opt.cipher_list.empty() ? "ALL:!aNULL:!eNULL:@SECLEVEL=0" : opt.cipher_list.c_str());
  SSL_CTX_set_min_proto_version(ctx.get(), opt.only_version ? opt.only_version : TLS1_VERSION);
  if (opt.only_version) SSL_CTX_set_max_proto_version(ctx.get(), opt.only_version);
  if (!opt.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(ctx.get(), opt.sigalgs.c_str());
  auto anchors = trust_store(opt.ca_file);
  if (!anchors.store) {
    res.failure = Failure::tls_error;
    res.setup_error = CheckError{ErrorReason::bad_params, Operation::none, "ca_file: " + anchors.error};
    co_return res;
  }
  SSL_CTX_set1_cert_store(ctx.get(), anchors.store.get());
  if (!opt.client_cert.empty()) {
    std::string key = opt.client_key.empty() ? opt.client_cert : opt.client_key;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), opt.client_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      res.failure = Failure::tls_error;
      res.setup_error = CheckError{ErrorReason::bad_params, Operation::none,
                                   "client_cert: cannot load client_cert/client_key: " + ssl_error_text()};
      co_return res;
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, verify_cb);
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
  if (!ssl) {
    res.failure = Failure::local;
    res.setup_error =
        CheckError{ErrorReason::local, Operation::handshake, "cannot create a TLS session: " + ssl_error_text()};
    co_return res;
  }
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  SSL_set_app_data(ssl.get(), &res);
  SSL_set_msg_callback(ssl.get(), msg_cb);
  SSL_set_msg_callback_arg(ssl.get(), &res);
  if (!opt.sni.empty()) SSL_set_tlsext_host_name(ssl.get(), opt.sni.c_str());
  if (!opt.verify_name.empty()) {
    boost::system::error_code aec;
    auto ip = asio::ip::make_address(opt.verify_name, aec);
    if (!aec)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), ip.to_string().c_str());
    else
      SSL_set1_host(ssl.get(), opt.verify_name.c_str());
  }

  ReplyParser sniffer;
  bool sniffing = true;
  std::array<std::uint8_t, 16384> buf;
  error_code ec;
  auto flush = [&]() -> asio::awaitable<error_code> {
    char* data = nullptr;
    long n = BIO_get_mem_data(wbio, &data);
    if (n <= 0) co_return error_code{};
    std::vector<char> copy(data, data + n);
    (void)BIO_reset(wbio);
    co_return co_await timed_write(*socket, asio::buffer(copy), deadline);
  };
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl.get());
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), r);
    std::string ssl_text = err == SSL_ERROR_SSL ? ssl_error_text() : "";
    ec = co_await flush();
    if (r == 1) break;
    if (err == SSL_ERROR_WANT_READ && !ec) {
      auto [rec, n] = co_await timed_read(*socket, asio::buffer(buf), deadline);
      if (n > 0) {
        res.got_server_bytes = true;
        if (sniffing) {
          auto kind = sniffer.feed(buf.data(), n).kind;
          if (kind == ServerReply::Kind::not_tls || kind == ServerReply::Kind::plain_http) {
            res.failure = kind == ServerReply::Kind::not_tls ? Failure::not_tls : Failure::plain_http;
            res.message = "the server's answer is not TLS";
            break;
          }
          sniffing = kind == ServerReply::Kind::pending;
        }
        BIO_write(rbio, buf.data(), static_cast<int>(n));
        continue;
      }
      ec = rec;
    }
    if (ec) {
      res.failure = failure_of(ec);
      res.message = ec == asio::error::timed_out ? "the server sent nothing more before the deadline" : ec.message();
    } else if (res.alert) {
      res.failure = Failure::alert;
      res.message = "the server sent alert " + alert_name(res.alert);
    } else {
      res.failure = Failure::tls_error;
      res.message = ssl_text.empty() ? "handshake failed (libssl error " + std::to_string(err) + ")" : ssl_text;
    }
    break;
  }

  // TLS 1.3 servers judge the client certificate after the client finished:
  // read briefly so a rejection (alert) is seen rather than missed.
  if (res.failure == Failure::none && res.cert_requested && SSL_version(ssl.get()) == TLS1_3_VERSION) {
    auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(300));
    // The verdict comes before anything else the server sends (session
    // tickets), so the first bytes after the handshake settle it.
    for (bool fed = false;;) {
      char tmp[256];
      int n = SSL_read(ssl.get(), tmp, sizeof tmp);
      if (n > 0 || SSL_get_error(ssl.get(), n) != SSL_ERROR_WANT_READ || fed) break;
      auto [rec, got] = co_await timed_read(*socket, asio::buffer(buf), until);
      if (rec || got == 0) break;
      BIO_write(rbio, buf.data(), static_cast<int>(got));
      fed = true;
    }
    ERR_clear_error();
    if (res.alert) {
      res.failure = Failure::alert;
      res.message = "the server sent alert " + alert_name(res.alert) + " after the handshake";
    }
  }

  res.client_cert_sent = res.cert_requested && !opt.client_cert.empty();
  res.version = SSL_get_version(ssl.get());
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl.get())) {
    const char* n = SSL_CIPHER_standard_name(c);
    res.cipher = n ? n : SSL_CIPHER_get_name(c);
  }
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get()))
    for (int i = 0; i < sk_X509_num(chain); ++i) res.presented.push_back(share_x509(sk_X509_value(chain, i)));
  if (STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl.get()))
    for (int i = 0; i < sk_X509_num(chain); ++i) res.verified.push_back(share_x509(sk_X509_value(chain, i)));
  if (const STACK_OF(X509_NAME)* names = SSL_get_client_CA_list(ssl.get())) {
    for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
      char line[512];
      X509_NAME_oneline(sk_X509_NAME_value(names, i), line, sizeof line);
      res.client_ca_names.emplace_back(line);
    }
  }
  socket->close(ec);
  co_return res;
}

}  // namespace callready::checks::tls
