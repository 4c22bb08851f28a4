#include "probe/net/cidr.hpp"

#include <doctest/doctest.h>

using boost::asio::ip::make_address;
using callready::net::Cidr;

TEST_CASE("CIDR parsing") {
  CHECK(Cidr::parse("203.0.113.0/24")->prefix() == 24);
  CHECK(Cidr::parse("2001:db8::/32")->prefix() == 32);
  CHECK(Cidr::parse("198.51.100.7")->prefix() == 32);
  CHECK(Cidr::parse("2001:db8::1")->prefix() == 128);
  for (const char* bad : {"203.0.113.0/33", "2001:db8::/129", "203.0.113/24", "x/8", "203.0.113.0/", "203.0.113.0/-1",
                          "203.0.113.0/2x", "::ffff:203.0.113.1/120", ""})
    CHECK_MESSAGE(!Cidr::parse(bad), bad);
}

TEST_CASE("membership, across families and for mapped addresses") {
  auto v4 = *Cidr::parse("203.0.113.0/25");
  CHECK(v4.contains(make_address("203.0.113.0")));
  CHECK(v4.contains(make_address("203.0.113.127")));
  CHECK_FALSE(v4.contains(make_address("203.0.113.128")));
  CHECK_FALSE(v4.contains(make_address("2001:db8::1")));
  CHECK(v4.contains(make_address("::ffff:203.0.113.5")));
  auto odd = *Cidr::parse("198.18.0.0/15");
  CHECK(odd.contains(make_address("198.19.255.255")));
  CHECK_FALSE(odd.contains(make_address("198.20.0.0")));
  auto v6 = *Cidr::parse("2001:db8:2::/64");
  CHECK(v6.contains(make_address("2001:db8:2::10")));
  CHECK_FALSE(v6.contains(make_address("2001:db8:3::10")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(make_address("192.0.2.1")));
  CHECK(callready::net::in_any({v4, v6}, make_address("2001:db8:2::1")));
}
