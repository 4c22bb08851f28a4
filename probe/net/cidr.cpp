#include "probe/net/cidr.hpp"

#include <charconv>

namespace callready::net {

std::optional<Cidr> Cidr::parse(const std::string& text) {
  auto slash = text.find('/');
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(text.substr(0, slash), ec);
  if (ec) return std::nullopt;
  int max = addr.is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string::npos) {
    auto digits = text.substr(slash + 1);
    auto [p, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (err != std::errc() || p != digits.data() + digits.size() || digits.empty() || prefix < 0 || prefix > max)
      return std::nullopt;
  }
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) return std::nullopt;
  return Cidr{addr, prefix};
}

namespace {
template <std::size_t N>
bool prefix_equal(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& b, int bits) {
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}
}  // namespace

bool Cidr::contains(const boost::asio::ip::address& a) const {
  auto addr = a;
  // An IPv4 address seen through an IPv6 socket still belongs to IPv4 prefixes.
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v4() != network.is_v4()) return false;
  if (addr.is_v4()) return prefix_equal(addr.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix);
  return prefix_equal(addr.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix);
}

std::string Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix); }

bool in_any(const std::vector<Cidr>& nets, const boost::asio::ip::address& a) {
  for (const auto& n : nets)
    if (n.contains(a)) return true;
  return false;
}

}  // namespace callready::net
