#include "checks/proxy/proxy_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <regex>

#include "probe/net/async.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

StepOutcome outcome_of(const boost::system::error_code& ec) {
  switch (net::classify(ec)) {
    case net::NetFailure::refused:
      return StepOutcome::refused;
    case net::NetFailure::timeout:
      return StepOutcome::no_answer;
    default:
      return StepOutcome::failed;
  }
}

asio::ssl::context& client_context() {
  static asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_client);
    c.set_verify_mode(asio::ssl::verify_none);  // the chain is judged, not trusted
    return c;
  }();
  return ctx;
}

struct Exchanged {
  boost::system::error_code ec;
  Operation operation = Operation::none;
  ResponseRead response;
};

// Writes `request` and reads the answer, bounded by kMaxResponseBytes.
template <class Stream>
asio::awaitable<Exchanged> request_response(Stream& stream, const std::string& request) {
  Exchanged x;
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), kUseTuple);
  if (wec) {
    x.ec = wec;
    x.operation = Operation::send;
    co_return x;
  }
  std::string received;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(chunk), kUseTuple);
    received.append(chunk.data(), n);
    bool eof = rec == asio::error::eof || rec == asio::ssl::error::stream_truncated;
    x.response = read_response(received, eof);
    if (x.response.complete || x.response.status == HeadStatus::invalid || x.response.status == HeadStatus::too_large ||
        received.size() >= kMaxResponseBytes)
      co_return x;
    if (rec) {
      x.ec = rec;
      x.operation = Operation::receive;
      co_return x;
    }
  }
}

void fill_echo(EchoExchange& e, const Exchanged& x) {
  if (x.ec) {
    e.outcome = x.ec == asio::error::eof ? StepOutcome::failed : outcome_of(x.ec);
    e.operation = x.operation;
    e.message = x.response.error.empty() ? x.ec.message() : x.response.error;
    return;
  }
  if (!x.response.complete) {
    e.outcome = StepOutcome::failed;
    e.operation = Operation::parse;
    e.message = "a malformed answer: " + x.response.error;
    return;
  }
  e.status = x.response.head.status();
  if (const auto* s = x.response.head.find("Server")) e.server = s->value;
  e.echo = decode_echo(x.response.body);
  if (!e.echo) {
    e.outcome = StepOutcome::not_echo;
    e.message = "answered " + x.response.head.start_line + " without the echo";
    return;
  }
  e.outcome = StepOutcome::ok;
  auto sent = parse_head(e.sent);
  auto arrived = parse_head(e.echo->head);
  if (arrived.status == HeadStatus::ok) e.diff = compare_heads(sent.head, arrived.head);
  e.response_added =
      added_fields({"Server", "Content-Type", "Cache-Control", "Connection", "Content-Length"}, x.response.head);
}

}  // namespace

const char* to_string(StepOutcome o) {
  switch (o) {
    case StepOutcome::ok:
      return "ok";
    case StepOutcome::not_echo:
      return "not_echo";
    case StepOutcome::refused:
      return "refused";
    case StepOutcome::no_answer:
      return "no_answer";
    case StepOutcome::tunnel_failed:
      return "tunnel_failed";
    case StepOutcome::failed:
      break;
  }
  return "failed";
}

asio::awaitable<Connected> connect_within(tcp::endpoint ep, Millis limit) {
  auto ex = co_await asio::this_coro::executor;
  Connected c;
  auto sock = std::make_unique<tcp::socket>(ex);
  auto connecting = [](tcp::socket& s, tcp::endpoint to) -> asio::awaitable<boost::system::error_code> {
    auto [ec] = co_await s.async_connect(to, kUseTuple);
    co_return ec;
  }(*sock, ep);
  auto done = co_await net::with_timeout(std::move(connecting), limit);
  auto where = net::format_host_port(ep.address(), ep.port());
  if (!done) {
    c.outcome = StepOutcome::no_answer;
    c.message = "connect " + where + ": no answer in " + std::to_string(limit.count()) + " ms";
  } else if (*done) {
    c.outcome = outcome_of(*done);
    c.local = net::classify(*done) == net::NetFailure::local;
    c.message = "connect " + where + ": " + done->message();
  } else {
    c.socket = std::move(sock);
  }
  co_return c;
}

asio::awaitable<void> echo_exchange(Socket socket, std::string sni, EchoExchange& e, Millis limit) {
  auto run = [](tcp::socket& s, std::string name, EchoExchange& ex) -> asio::awaitable<Exchanged> {
    if (ex.scheme != "https") co_return co_await request_response(s, ex.sent);
    asio::ssl::stream<tcp::socket&> tls(s, client_context());
    if (!name.empty()) SSL_set_tlsext_host_name(tls.native_handle(), name.c_str());
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kUseTuple);
    ex.chain = describe_chain(tls.native_handle());
    if (hec) {
      Exchanged x;
      x.ec = hec;
      x.operation = Operation::handshake;
      co_return x;
    }
    ex.tls_version = SSL_get_version(tls.native_handle());
    co_return co_await request_response(tls, ex.sent);
  }(*socket, std::move(sni), e);
  auto done = co_await net::with_timeout(std::move(run), limit);
  if (!done) {
    e.outcome = StepOutcome::no_answer;
    e.operation = Operation::receive;
    e.message = "no complete answer in " + std::to_string(limit.count()) + " ms";
  } else {
    fill_echo(e, *done);
  }
  boost::system::error_code ec;
  socket->close(ec);
}

asio::awaitable<void> read_chain(Socket socket, std::string sni, TargetProbe& t, Millis limit) {
  auto run = [](tcp::socket& s, std::string name, TargetProbe& tp) -> asio::awaitable<boost::system::error_code> {
    asio::ssl::stream<tcp::socket&> tls(s, client_context());
    if (!name.empty()) SSL_set_tlsext_host_name(tls.native_handle(), name.c_str());
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kUseTuple);
    tp.chain = describe_chain(tls.native_handle());
    co_return hec;
  }(*socket, std::move(sni), t);
  auto done = co_await net::with_timeout(std::move(run), limit);
  if (!done) {
    t.outcome = StepOutcome::no_answer;
    t.operation = Operation::handshake;
    t.message = "TLS handshake: no answer in " + std::to_string(limit.count()) + " ms";
  } else if (*done && t.chain.empty()) {
    t.outcome = outcome_of(*done);
    t.operation = Operation::handshake;
    t.message = "TLS handshake: " + done->message();
  } else {
    t.outcome = StepOutcome::ok;  // a chain was shown; a failure after it does not matter here
  }
  boost::system::error_code ec;
  socket->close(ec);
}

asio::awaitable<void> fetch_pac(tcp::endpoint ep, std::string host_header, std::string target, PacFetch& f,
                                Millis limit) {
  auto connected = co_await connect_within(ep, limit);
  if (!connected.socket) {
    f.outcome = connected.outcome;
    f.message = connected.message;
    co_return;
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host_header +
                        "\r\nUser-Agent: callready-proxy-probe/1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  auto run = [](tcp::socket& s, std::string req) -> asio::awaitable<Exchanged> {
    co_return co_await request_response(s, req);
  }(*connected.socket, std::move(request));
  auto done = co_await net::with_timeout(std::move(run), limit);
  if (!done) {
    f.outcome = StepOutcome::no_answer;
    f.message = "no complete answer in " + std::to_string(limit.count()) + " ms";
  } else if (done->ec || !done->response.complete) {
    f.outcome = done->ec ? outcome_of(done->ec) : StepOutcome::failed;
    f.message = done->response.error.empty() ? done->ec.message() : done->response.error;
  } else {
    f.status = done->response.head.status();
    f.outcome = f.status == 200 ? StepOutcome::ok : StepOutcome::failed;
    f.message = done->response.head.start_line;
    if (f.status == 200) {
      f.text = done->response.body.substr(0, 16 * 1024);
      f.proxies = pac_proxies(f.text);
    }
  }
  boost::system::error_code ec;
  connected.socket->close(ec);
}

std::vector<std::string> pac_proxies(const std::string& text) {
  static const std::regex directive(R"((?:PROXY|HTTPS)\s+([A-Za-z0-9.\-\[\]:]+))");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), directive); it != std::sregex_iterator(); ++it) {
    auto found = (*it)[1].str();
    if (std::find(out.begin(), out.end(), found) == out.end()) out.push_back(found);
  }
  return out;
}

}  // namespace callready::checks::proxy
