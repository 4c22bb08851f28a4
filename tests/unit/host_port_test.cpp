// The one HOST[:PORT] reader and writer.
#include "probe/net/host_port.hpp"

#include <doctest/doctest.h>

#include "probe/net/resolver.hpp"
#include "probe/respond/control_server.hpp"

using namespace callready::net;

TEST_CASE("host, host:port, [v6], [v6]:port and a bare IPv6 literal") {
  auto a = parse_host_port("responder.example.com");
  REQUIRE(a);
  CHECK(a->host == "responder.example.com");
  CHECK_FALSE(a->port);
  auto b = parse_host_port("203.0.113.10:7447");
  REQUIRE(b);
  CHECK(b->host == "203.0.113.10");
  CHECK(b->port == 7447);
  auto c = parse_host_port("[2001:db8::1]:5060");
  REQUIRE(c);
  CHECK(c->host == "2001:db8::1");
  CHECK(c->port == 5060);
  auto d = parse_host_port("[2001:db8::1]");
  REQUIRE(d);
  CHECK(d->host == "2001:db8::1");
  CHECK_FALSE(d->port);
  auto e = parse_host_port("2001:db8::1");
  REQUIRE(e);
  CHECK(e->host == "2001:db8::1");
  CHECK_FALSE(e->port);
}

TEST_CASE("malformed HOST[:PORT] is rejected") {
  for (const char* bad : {"", ":7447", "host:", "host:0", "host:65536", "host:12ab", "[2001:db8::1", "[]:5",
                          "[2001:db8::1]5060", "[2001:db8::1]:"})
    CHECK_MESSAGE(!parse_host_port(bad), bad);
}

TEST_CASE("writing brackets IPv6 only when a port follows") {
  CHECK(format_host_port("203.0.113.10", 3478) == "203.0.113.10:3478");
  CHECK(format_host_port("2001:db8::1", 3478) == "[2001:db8::1]:3478");
  CHECK(format_host_port("2001:db8::1") == "2001:db8::1");
  CHECK(format_host_port(boost::asio::ip::make_address("2001:db8::2"), 80) == "[2001:db8::2]:80");
  for (const char* text : {"203.0.113.10:3478", "[2001:db8::1]:5060", "sbc.example.com:5061"}) {
    auto hp = parse_host_port(text);
    REQUIRE(hp);
    CHECK(format_host_port(hp->host, hp->port) == text);
  }
}

TEST_CASE("--dns-server and --listen read through the same parser") {
  auto dns = callready::net::parse_dns_server("203.0.113.53");
  REQUIRE(dns);
  CHECK(dns->port == 53);
  auto dns6 = callready::net::parse_dns_server("[2001:db8::53]:5353");
  REQUIRE(dns6);
  CHECK(dns6->address.to_string() == "2001:db8::53");
  CHECK(dns6->port == 5353);
  for (const char* bad : {"", "dns.example.com", "203.0.113.53:0", "203.0.113.53:x", "[2001:db8::53"})
    CHECK_MESSAGE(!callready::net::parse_dns_server(bad), bad);

  using callready::respond::parse_listen;
  CHECK(parse_listen("127.0.0.1:7447") ==
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 7447));
  CHECK(parse_listen("[::]:7448").address().to_string() == "::");
  CHECK(parse_listen("[::]:7448").port() == 7448);
  CHECK(parse_listen(":9000").port() == 9000);
  CHECK(parse_listen("9000").address().to_string() == "0.0.0.0");
  CHECK(parse_listen("198.51.100.7").port() == 7447);
  for (const char* bad : {"", "responder.example.com:7447", "1.2.3.4:0", "[::1", "1.2.3.4:99999"})
    CHECK_THROWS_AS(parse_listen(bad), std::invalid_argument);
}
