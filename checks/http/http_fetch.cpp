// One attempt of the http kind at one address: TCP (or a CONNECT tunnel),
// TLS for https, the request, then bounded reads of the answer. It measures
// and records; judge_http decides.
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <ctime>

#include "checks/common/trust_store.hpp"
#include "checks/http/http_answer.hpp"
#include "checks/http/http_check.hpp"
#include "probe/net/async.hpp"
#include "probe/net/host_port.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::asio::ip::tcp;

namespace callready::checks::http {

namespace {

constexpr Millis kConnectTimeout{3000};
constexpr Millis kHandshakeTimeout{3000};
constexpr Millis kSendTimeout{2000};
constexpr Millis kBodyTimeout{3000};

double ms_since(Clock::time_point t) {
  return std::round(std::chrono::duration<double, std::milli>(Clock::now() - t).count() * 10) / 10;
}

Millis left_until(Clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

// What a client certificate request told us, filled by libssl's callback.
struct CertRequest {
  bool requested = false;
  std::vector<std::string> ca_names;
};

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Called when the server sends a CertificateRequest: note it and the CA
// names it lists, send no certificate.
int on_certificate_request(SSL* ssl, X509**, EVP_PKEY**) {
  auto* req = static_cast<CertRequest*>(SSL_get_app_data(ssl));
  if (!req) return 0;
  req->requested = true;
  req->ca_names.clear();
  if (const STACK_OF(X509_NAME)* cas = SSL_get_client_CA_list(ssl))
    for (int i = 0; i < sk_X509_NAME_num(cas); ++i) req->ca_names.push_back(name_text(sk_X509_NAME_value(cas, i)));
  return 0;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

void set_network_failure(HttpAttempt& a, AttemptFailure f, const boost::system::error_code& ec, Operation op,
                         const std::string& what) {
  a.net = net::classify(ec);
  a.failure = a.net == net::NetFailure::local ? AttemptFailure::local : f;
  if (a.net == net::NetFailure::closed || a.net == net::NetFailure::reset)
    a.failure = f == AttemptFailure::connect ? f : AttemptFailure::closed;
  a.operation = op;
  a.message = fmt::format("{}: {}", what, ec.message());
}

// The request, then the answer: first byte, header, body, each bounded.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const HttpParams& p, HttpAttempt& a, CheckContext& ctx) {
  const auto& url = p.parsed;
  bhttp::request<bhttp::empty_body> req{p.method == "HEAD" ? bhttp::verb::head : bhttp::verb::get, url.target, 11};
  bool default_port = url.port == (url.scheme == "https" ? 443 : 80);
  req.set(bhttp::field::host,
          default_port ? net::format_host_port(url.host) : net::format_host_port(url.host, url.port));
  req.set(bhttp::field::user_agent, "callready");
  req.set(bhttp::field::accept, "*/*");
  req.set(bhttp::field::connection, "close");
  auto writing = bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  auto written = co_await net::with_timeout(std::move(writing), ctx.budget(kSendTimeout));
  if (!written) {
    a.failure = AttemptFailure::timeout;
    a.operation = Operation::send;
    a.message = "the request could not be sent in time";
    co_return;
  }
  if (auto [ec, n] = *written; ec) {
    set_network_failure(a, AttemptFailure::closed, ec, Operation::send, "sending the request");
    co_return;
  }

  auto sent = Clock::now();
  auto answer_limit = ctx.budget(Millis(p.answer_timeout_ms));
  auto deadline = sent + answer_limit;
  beast::flat_buffer buffer;
  auto space = buffer.prepare(4096);
  auto first = stream.async_read_some(space, asio::as_tuple(asio::use_awaitable));
  auto got = co_await net::with_timeout(std::move(first), answer_limit);
  if (!got) {
    a.failure = AttemptFailure::timeout;
    a.operation = Operation::receive;
    a.message = fmt::format("no answer within {} ms", answer_limit.count());
    co_return;
  }
  auto [rec, n] = *got;
  if (rec) {
    set_network_failure(a, AttemptFailure::closed, rec, Operation::receive, "waiting for the answer");
    co_return;
  }
  buffer.commit(n);
  a.ttfb_ms = ms_since(sent);
  auto local = std::chrono::system_clock::now();

  AnswerParser parser;
  limit_answer(parser, p.method == "HEAD");
  auto reading = bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  auto header = co_await net::with_timeout(std::move(reading), left_until(deadline));
  if (!header) {
    a.failure = AttemptFailure::timeout;
    a.operation = Operation::receive;
    a.message = fmt::format("the answer's header was not complete within {} ms", answer_limit.count());
    co_return;
  }
  auto [hec, hn] = *header;
  if (hec == bhttp::error::body_limit && parser.is_header_done()) {
    // Content-Length alone says the body is over the limit: the header is whole, the body is not read.
    take_header(a, parser, local);
    a.body = BodyProblem::too_large;
    a.body_bytes = kMaxAnswerBody;
    co_return;
  }
  if (auto ec = hec; ec) {
    a.operation = Operation::parse;
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      a.failure = AttemptFailure::header_too_large;
      a.message = fmt::format("the answer's header went past {} bytes", kMaxAnswerHeader);
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      a.failure = AttemptFailure::closed;
      a.operation = Operation::receive;
      a.message = "the server closed the connection before the header was complete";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
      a.failure = AttemptFailure::no_status_line;
      a.message = fmt::format("the answer is not HTTP (no valid status line or header: {})", ec.message());
    } else {
      set_network_failure(a, AttemptFailure::closed, ec, Operation::receive, "reading the header");
    }
    co_return;
  }
  take_header(a, parser, local);
  if (!parser.is_done()) {
    auto body_limit = ctx.budget(kBodyTimeout);
    auto body_reading = bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    auto body = co_await net::with_timeout(std::move(body_reading), body_limit);
    if (!body) {
      a.body = BodyProblem::timeout;
    } else if (auto [ec, m] = *body; ec == bhttp::error::body_limit) {
      a.body = BodyProblem::too_large;
    } else if (ec) {
      a.body = BodyProblem::incomplete;
    }
  }
  a.body_bytes = a.body == BodyProblem::too_large ? kMaxAnswerBody : parser.get().body().size();
}

asio::awaitable<std::unique_ptr<tcp::socket>> connect_direct(const AttemptPlan& plan, HttpAttempt& a,
                                                             CheckContext& ctx) {
  boost::system::error_code aec;
  auto address = asio::ip::make_address(plan.address, aec);
  auto socket = std::make_unique<tcp::socket>(co_await asio::this_coro::executor);
  tcp::endpoint ep(address, plan.port ? plan.port : plan.params.parsed.port);
  auto start = Clock::now();
  auto limit = ctx.budget(kConnectTimeout);
  auto connecting = socket->async_connect(ep, asio::as_tuple(asio::use_awaitable));
  auto r = co_await net::with_timeout(std::move(connecting), limit);
  a.connect_ms = ms_since(start);
  if (!r) {
    a.failure = AttemptFailure::connect;
    a.net = net::NetFailure::timeout;
    a.operation = Operation::connect;
    a.message =
        fmt::format("no TCP connection to {} within {} ms", net::format_host_port(address, ep.port()), limit.count());
    co_return nullptr;
  }
  if (auto [ec] = *r; ec) {
    set_network_failure(a, AttemptFailure::connect, ec, Operation::connect,
                        "connecting to " + net::format_host_port(address, ep.port()));
    co_return nullptr;
  }
  co_return socket;
}

AttemptFailure tunnel_failure(http_proxy::TunnelFailure f) {
  using TF = http_proxy::TunnelFailure;
  switch (f) {
    case TF::auth_required:
      return AttemptFailure::proxy_auth_required;
    case TF::refused:
      return AttemptFailure::proxy_refused;
    case TF::bad_response:
      return AttemptFailure::proxy_bad_response;
    default:
      return AttemptFailure::proxy_unreachable;
  }
}

asio::awaitable<std::unique_ptr<tcp::socket>> connect_tunnel(const AttemptPlan& plan, HttpAttempt& a,
                                                             CheckContext& ctx) {
  auto start = Clock::now();
  auto opening = http_proxy::open_tunnel(*plan.proxy_endpoint, *plan.proxy, plan.address,
                                         plan.port ? plan.port : plan.params.parsed.port, ctx.budget(kConnectTimeout));
  auto t = co_await std::move(opening);
  a.connect_ms = ms_since(start);
  if (t.failure == http_proxy::TunnelFailure::none) co_return std::move(t.socket);
  a.failure = tunnel_failure(t.failure);
  if (t.failure == http_proxy::TunnelFailure::connect && t.net == net::NetFailure::local)
    a.failure = AttemptFailure::local;
  a.net = t.net;
  a.operation = t.operation;
  a.message = t.message;
  a.status = 0;
  a.proxy_auth_scheme = t.auth_scheme;
  co_return nullptr;
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& ca_file, std::string& error) {
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  auto anchors = trust_store(ca_file);  // shared: loading the system bundle per check costs ~20 ms
  if (!anchors.store) {
    error = "ca_file: " + anchors.error;
    return nullptr;
  }
  SSL_CTX_set1_cert_store(tls->native_handle(), anchors.store.get());
  // Verified by hand afterwards (SSL_get_verify_result): an untrusted
  // certificate is reported, and the exchange still measured.
  tls->set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_client_cert_cb(tls->native_handle(), &on_certificate_request);
  return tls;
}

asio::awaitable<HttpAttempt> run_attempt(AttemptPlan plan, CheckContext& ctx) {
  HttpAttempt a;
  std::unique_ptr<tcp::socket> socket;
  if (plan.proxy) {
    auto tunnelling = connect_tunnel(plan, a, ctx);
    socket = co_await std::move(tunnelling);
  } else {
    auto connecting = connect_direct(plan, a, ctx);
    socket = co_await std::move(connecting);
  }
  if (!socket) co_return a;
  const auto& url = plan.params.parsed;
  if (url.scheme != "https") {
    co_await exchange(*socket, plan.params, a, ctx);
    co_return a;
  }

  asio::ssl::stream<tcp::socket&> stream(*socket, *plan.tls);
  CertRequest request;
  SSL* ssl = stream.native_handle();
  SSL_set_app_data(ssl, &request);
  if (!is_ip_literal(url.host)) SSL_set_tlsext_host_name(ssl, url.host.c_str());
  SSL_set1_host(ssl, url.host.c_str());
  auto start = Clock::now();
  auto handshaking = stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  auto hs = co_await net::with_timeout(std::move(handshaking), ctx.budget(kHandshakeTimeout));
  a.handshake_ms = ms_since(start);
  a.client_cert_requested = request.requested;
  a.client_ca_names = request.ca_names;
  if (!hs) {
    a.failure = AttemptFailure::handshake;
    a.net = net::NetFailure::timeout;
    a.operation = Operation::handshake;
    a.message = "the TLS handshake did not complete in time";
  } else if (auto [ec] = *hs; ec) {
    a.failure = AttemptFailure::handshake;
    a.net = net::classify(ec);
    a.operation = Operation::handshake;
    a.message = fmt::format("TLS handshake: {}", ec.message());
  }
  if (a.failure != AttemptFailure::none) {
    a.refused_without_certificate = request.requested;
    SSL_set_app_data(ssl, nullptr);
    co_return a;
  }
  a.tls_version = SSL_get_version(ssl);
  if (long v = SSL_get_verify_result(ssl); v != X509_V_OK) a.verify_error = X509_verify_cert_error_string(v);
  co_await exchange(stream, plan.params, a, ctx);
  // TLS 1.3 sends the CertificateRequest after the handshake when the server
  // asks late (post-handshake auth is not offered, so it is the handshake's).
  a.client_cert_requested = request.requested;
  a.client_ca_names = request.ca_names;
  // TLS 1.3: the refusal of an empty Certificate arrives as an alert where the answer should be.
  a.refused_without_certificate =
      request.requested && (a.failure == AttemptFailure::closed || a.failure == AttemptFailure::handshake);
  SSL_set_app_data(ssl, nullptr);
  co_return a;
}

std::optional<std::int64_t> parse_http_date(const std::string& text) {
  // IMF-fixdate, RFC 850, asctime (RFC 9110 § 5.6.7), in the C locale's English names.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), format, &tm);
    if (!end || *end != '\0') continue;
    return static_cast<std::int64_t>(timegm(&tm));
  }
  return std::nullopt;
}

void limit_answer(AnswerParser& parser, bool head) {
  parser.header_limit(kMaxAnswerHeader);
  parser.body_limit(kMaxAnswerBody);
  if (head) parser.skip(true);
}

void take_header(HttpAttempt& a, const AnswerParser& parser, std::chrono::system_clock::time_point local) {
  const auto& res = parser.get();
  a.status = static_cast<int>(res.result_int());
  a.reason = std::string(res.reason());
  a.server = std::string(res[bhttp::field::server]);
  if (a.status >= 300 && a.status < 400 && res.find(bhttp::field::location) != res.end())
    a.location = std::string(res[bhttp::field::location]);
  a.date = std::string(res[bhttp::field::date]);
  if (auto server_time = parse_http_date(a.date)) {
    double local_s = std::chrono::duration<double>(local.time_since_epoch()).count();
    a.date_offset_s = std::round((static_cast<double>(*server_time) - local_s) * 10) / 10;
  }
}

}  // namespace callready::checks::http
