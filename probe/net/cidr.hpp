#pragma once
// IPv4/IPv6 prefixes ("203.0.113.0/24", "2001:db8::/32") and membership.
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <vector>

namespace callready::net {

struct Cidr {
  boost::asio::ip::address network;
  int prefix = 0;

  // nullopt when malformed; a bare address is a /32 or /128.
  static std::optional<Cidr> parse(const std::string& text);
  bool contains(const boost::asio::ip::address& a) const;
  std::string to_string() const;
};

bool in_any(const std::vector<Cidr>& nets, const boost::asio::ip::address& a);

}  // namespace callready::net
