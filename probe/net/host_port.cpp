#include "probe/net/host_port.hpp"

#include <charconv>

namespace callready::net {

namespace {

std::optional<std::uint16_t> port_number(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (rest.empty()) return out;
    if (!rest.starts_with(':') || !(out.port = port_number(rest.substr(1)))) return std::nullopt;
    return out;
  }
  auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
    out.host = std::string(text);  // a bare IPv6 literal: no port
    return out;
  }
  out.host = std::string(text.substr(0, colon));
  if (out.host.empty()) return std::nullopt;
  if (colon != std::string_view::npos && !(out.port = port_number(text.substr(colon + 1)))) return std::nullopt;
  return out;
}

std::string format_host_port(std::string_view host, std::optional<std::uint16_t> port) {
  if (!port) return std::string(host);
  bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(*port);
}

std::string format_host_port(const boost::asio::ip::address& address, std::optional<std::uint16_t> port) {
  return format_host_port(address.to_string(), port);
}

}  // namespace callready::net
