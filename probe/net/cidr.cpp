#include "probe/net/cidr.hpp"

namespace callready::net {

namespace ip = boost::asio::ip;

std::optional<Cidr> Cidr::parse(const std::string& text) {
  boost::system::error_code ec;
  if (text.find('/') == std::string::npos) {
    auto addr = ip::make_address(text, ec);
    if (ec || (addr.is_v6() && addr.to_v6().is_v4_mapped())) return std::nullopt;
    if (addr.is_v4()) return Cidr(ip::network_v4(addr.to_v4(), 32));
    return Cidr(ip::network_v6(addr.to_v6(), 128));
  }
  if (text.find(':') == std::string::npos) {
    auto net = ip::make_network_v4(text, ec);
    if (ec) return std::nullopt;
    return Cidr(net);
  }
  auto net = ip::make_network_v6(text, ec);
  if (ec || net.address().is_v4_mapped()) return std::nullopt;
  return Cidr(net);
}

bool Cidr::contains(const ip::address& a) const {
  auto addr = a;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = ip::make_address_v4(ip::v4_mapped, addr.to_v6());
  if (const auto* v4 = std::get_if<ip::network_v4>(&net_))
    return addr.is_v4() && ip::network_v4(addr.to_v4(), v4->prefix_length()).network() == v4->network();
  const auto& v6 = std::get<ip::network_v6>(net_);
  return addr.is_v6() && ip::network_v6(addr.to_v6(), v6.prefix_length()).network() == v6.network();
}

int Cidr::prefix() const {
  return std::visit([](const auto& n) { return static_cast<int>(n.prefix_length()); }, net_);
}

std::string Cidr::to_string() const {
  return std::visit([](const auto& n) { return n.to_string(); }, net_);
}

bool in_any(const std::vector<Cidr>& nets, const ip::address& a) {
  for (const auto& n : nets)
    if (n.contains(a)) return true;
  return false;
}

}  // namespace callready::net
