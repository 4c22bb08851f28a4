// checks/common/http_proxy: URL parsing, which proxy applies (params, the
// environment, NO_PROXY), and the CONNECT tunnel against a fake proxy served
// in-process on a loopback port (its request recorded, its answer canned).
#include "checks/common/http_proxy.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

using namespace callready;
using namespace callready::checks::http_proxy;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

Url url(const std::string& text) {
  std::string error;
  auto u = parse_url(text, error);
  REQUIRE_MESSAGE(u, error);
  return *u;
}

}  // namespace

TEST_CASE("parse_url splits scheme, userinfo, host, port and target") {
  auto u = url("https://User%40x:p%3Ass@Example.com:8443/a/b?c=d#frag");
  CHECK(u.scheme == "https");
  CHECK(u.username == "User@x");
  CHECK(u.password == "p:ss");
  CHECK(u.host == "Example.com");
  CHECK(u.port == 8443);
  CHECK(u.target == "/a/b?c=d");
  CHECK(u.redacted() == "https://Example.com:8443/a/b?c=d");
  auto v6 = url("http://[2001:db8::1]");
  CHECK(v6.host == "2001:db8::1");
  CHECK(v6.port == 80);
  CHECK(v6.target == "/");
  CHECK(v6.authority() == "[2001:db8::1]:80");
  std::string error;
  auto bare = parse_url("proxy.example.test:3128", error, "http");
  REQUIRE(bare);
  CHECK(bare->host == "proxy.example.test");
  CHECK(bare->port == 3128);
}

TEST_CASE("parse_url refuses what it cannot use") {
  for (const char* bad :
       {"example.com/x", "ftp://example.com/", "http://", "http://host:0/", "http://host:70000/", "http://host:12a/",
        "http://2001:db8::1/", "http://[2001:db8::1/", "http://[nothex]/", "http://u%zz@host/", "socks5://host:1080"}) {
    std::string error;
    CHECK_MESSAGE(!parse_url(bad, error), bad);
    CHECK_MESSAGE(!error.empty(), bad);
  }
}

TEST_CASE("NO_PROXY entries follow the documented rules") {
  struct Row {
    const char* no_proxy;
    const char* host;
    std::uint16_t port;
    const char* match;
  };
  const Row rows[] = {
      {"*", "anything.test", 443, "*"},
      {"example.com", "example.com", 443, "example.com"},
      {"example.com", "api.example.com", 443, "example.com"},
      {"example.com", "notexample.com", 443, ""},
      {".example.com", "example.com", 443, ""},
      {".example.com", "api.example.com", 443, ".example.com"},
      {"*.example.com", "api.example.com", 443, "*.example.com"},
      {"*.example.com", "example.com", 443, ""},
      {"EXAMPLE.com.", "Api.Example.COM.", 443, "EXAMPLE.com."},
      {"example.com:8443", "example.com", 443, ""},
      {"example.com:8443", "example.com", 8443, "example.com:8443"},
      {"other.test, 192.0.2.7", "192.0.2.7", 80, "192.0.2.7"},
      {"192.0.2.7", "192.0.2.8", 80, ""},
      {"198.51.100.0/24", "198.51.100.99", 80, "198.51.100.0/24"},
      {"198.51.100.0/24", "198.51.101.1", 80, ""},
      {"198.51.100.0/24", "host.test", 80, ""},
      {"[2001:db8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443"},
      {"2001:db8::/32", "2001:db8:5::9", 443, "2001:db8::/32"},
      {"a.test  b.test,,c.test", "x.c.test", 443, "c.test"},
      {"", "example.com", 443, ""},
  };
  for (const auto& r : rows) CHECK_MESSAGE(no_proxy_match(r.no_proxy, r.host, r.port) == r.match, r.no_proxy);
}

TEST_CASE("choose_proxy: params first, then the scheme's variable, upper case before lower") {
  ProxyEnvironment env;
  env.https_proxy_upper = "http://upper.test:3128";
  env.https_proxy_lower = "http://lower.test:3128";
  env.http_proxy_lower = "plain.test:8080";
  env.no_proxy_lower = ".internal.test";

  auto c = choose_proxy(url("https://api.example.com/"), std::nullopt, env);
  REQUIRE(c.proxy);
  CHECK(c.proxy->host == "upper.test");
  CHECK(c.source == "HTTPS_PROXY");

  env.https_proxy_upper.reset();
  c = choose_proxy(url("https://api.example.com/"), std::nullopt, env);
  REQUIRE(c.proxy);
  CHECK(c.source == "https_proxy");

  c = choose_proxy(url("http://api.example.com/"), std::nullopt, env);
  REQUIRE(c.proxy);
  CHECK(c.proxy->host == "plain.test");
  CHECK(c.proxy->port == 8080);
  CHECK(c.source == "http_proxy");

  c = choose_proxy(url("https://xsp.internal.test/"), std::nullopt, env);
  CHECK(!c.proxy);
  CHECK(c.exempted_by == ".internal.test");
  CHECK(c.error.empty());

  c = choose_proxy(url("https://xsp.internal.test/"), std::string("http://u:p@param.test:8000"), env);
  REQUIRE(c.proxy);
  CHECK(c.source == "params");
  CHECK(c.proxy->username == "u");

  c = choose_proxy(url("https://api.example.com/"), std::string("direct"), env);
  CHECK(!c.proxy);
  CHECK(c.source.empty());

  c = choose_proxy(url("https://api.example.com/"), std::nullopt, ProxyEnvironment{});
  CHECK(!c.proxy);
  CHECK(c.error.empty());

  c = choose_proxy(url("https://api.example.com/"), std::string("https://tls-proxy.test:443"), env);
  CHECK(!c.proxy);
  CHECK(c.error.find("only an http:// proxy") != std::string::npos);
}

namespace {

// A proxy that records the request header it gets, answers `reply` and then
// echoes whatever comes through (the "tunnel"). An empty reply: silence.
struct FakeProxy {
  asio::io_context& io;
  tcp::acceptor acceptor;
  std::string reply;
  std::string request;
  explicit FakeProxy(asio::io_context& io, std::string r)
      : io(io), acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply(std::move(r)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

  asio::awaitable<void> serve() {
    auto s = co_await acceptor.async_accept(asio::use_awaitable);
    std::string buf;
    auto n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, 8192), "\r\n\r\n", asio::use_awaitable);
    request = buf.substr(0, n);
    if (reply.empty()) {
      char c;
      co_await s.async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));  // until the client leaves
      co_return;
    }
    co_await asio::async_write(s, asio::buffer(reply), asio::use_awaitable);
    for (;;) {
      char data[256];
      auto [ec, m] = co_await s.async_read_some(asio::buffer(data), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      co_await asio::async_write(s, asio::buffer(data, m), asio::as_tuple(asio::use_awaitable));
    }
  }
};

// Opens a tunnel through the proxy at `at`; when it opens, sends "ping" and
// keeps what comes back as the message.
TunnelResult tunnel_at(asio::io_context& io, tcp::endpoint at, const std::string& proxy_url,
                       Millis limit = Millis(3000)) {
  std::string error;
  auto proxy = parse_url(proxy_url, error, "http");
  REQUIRE(proxy);
  TunnelResult out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto opening = open_tunnel(at, *proxy, "xsp.example.test", 443, limit);
        out = co_await std::move(opening);
        if (out.socket) {
          std::string ping = "ping";
          co_await asio::async_write(*out.socket, asio::buffer(ping), asio::use_awaitable);
          char back[4];
          co_await asio::async_read(*out.socket, asio::buffer(back), asio::use_awaitable);
          out.message = std::string(back, 4);
          out.socket->close();  // lets the fake proxy's echo loop end
        }
      },
      asio::detached);
  run_io(io);
  return out;
}

TunnelResult tunnel(asio::io_context& io, FakeProxy& fake, const std::string& proxy_url, Millis limit = Millis(3000)) {
  return tunnel_at(io, fake.endpoint(), proxy_url, limit);
}

}  // namespace

TEST_CASE("a 200 to CONNECT gives a socket that carries the tunnel") {
  asio::io_context io;
  FakeProxy fake(io, "HTTP/1.1 200 Connection established\r\n\r\n");
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::none);
  CHECK(r.status == 200);
  CHECK(r.message == "ping");  // echoed back through the tunnel
  CHECK(fake.request.rfind("CONNECT xsp.example.test:443 HTTP/1.1\r\n", 0) == 0);
  CHECK(fake.request.find("Host: xsp.example.test:443\r\n") != std::string::npos);
  CHECK(fake.request.find("Proxy-Authorization") == std::string::npos);
  CHECK(!r.sent_credentials);
}

TEST_CASE("credentials in the proxy URL go as Basic (RFC 7617 vector)") {
  asio::io_context io;
  FakeProxy fake(io, "HTTP/1.1 200 OK\r\n\r\n");
  auto r = tunnel(io, fake, "http://Aladdin:open%20sesame@proxy.test:3128");
  CHECK(r.failure == TunnelFailure::none);
  CHECK(r.sent_credentials);
  CHECK(fake.request.find("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n") != std::string::npos);
}

TEST_CASE("407 is reported with the scheme the proxy demands") {
  asio::io_context io;
  FakeProxy fake(io,
                 "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
                 "Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 5\r\n\r\nhello");
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::auth_required);
  CHECK(r.status == 407);
  CHECK(r.auth_scheme == "Negotiate");
  CHECK(!r.socket);
  CHECK(r.message.find("demands authentication") != std::string::npos);
}

TEST_CASE("another status is a refusal naming it") {
  asio::io_context io;
  FakeProxy fake(io, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::refused);
  CHECK(r.status == 403);
  CHECK(r.message.find("403 Forbidden") != std::string::npos);
}

TEST_CASE("an answer that is not HTTP is a bad response, not a timeout") {
  asio::io_context io;
  FakeProxy fake(io, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::bad_response);
  CHECK(r.operation == Operation::parse);
}

TEST_CASE("a header that never ends stops at the limit") {
  asio::io_context io;
  std::string endless = "HTTP/1.1 200 OK\r\n";
  while (endless.size() < 3 * kMaxTunnelHeader) endless += "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  FakeProxy fake(io, endless);
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::bad_response);
  CHECK(r.message.find("over") != std::string::npos);
}

TEST_CASE("bytes after the 200 are refused") {
  asio::io_context io;
  FakeProxy fake(io, "HTTP/1.1 200 OK\r\n\r\nunexpected");
  auto r = tunnel(io, fake, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::bad_response);
}

TEST_CASE("a proxy that closes is reported closed") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto s = co_await acceptor.async_accept(asio::use_awaitable);
        s.close();
      },
      asio::detached);
  auto r = tunnel_at(io, acceptor.local_endpoint(), "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::closed);
}

TEST_CASE("a refused connection to the proxy is a connect failure") {
  asio::io_context io;
  tcp::endpoint dead;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead = a.local_endpoint();
  }
  auto r = tunnel_at(io, dead, "http://proxy.test:3128");
  CHECK(r.failure == TunnelFailure::connect);
  CHECK(r.net == net::NetFailure::refused);
  CHECK(r.operation == Operation::connect);
}

TEST_CASE("a silent proxy times out at the limit, in virtual time") {
  VirtualTime vt;
  asio::io_context io;
  FakeProxy fake(io, "");
  auto r = tunnel(io, fake, "http://proxy.test:3128", Millis(5000));
  CHECK(r.failure == TunnelFailure::timeout);
  CHECK(vt.elapsed() >= Millis(5000));
  CHECK(vt.elapsed() < Millis(5100));
}
