#pragma once
// IPv4/IPv6 prefixes ("203.0.113.0/24", "2001:db8::/32") and membership,
// on Asio's network_v4/network_v6.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace callready::net {

class Cidr {
 public:
  // nullopt when malformed; a bare address is a /32 or /128. An IPv4-mapped
  // IPv6 prefix is refused: write the IPv4 prefix instead.
  static std::optional<Cidr> parse(const std::string& text);

  // An IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d) still belongs to IPv4 prefixes.
  bool contains(const boost::asio::ip::address& a) const;
  int prefix() const;
  std::string to_string() const;  // as written, e.g. "203.0.113.0/24"

 private:
  explicit Cidr(std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6> net) : net_(net) {}
  std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6> net_;
};

bool in_any(const std::vector<Cidr>& nets, const boost::asio::ip::address& a);

}  // namespace callready::net
