#pragma once
// The one way "HOST[:PORT]" is read and written: "host", "host:5060",
// "203.0.113.10:3478", "[2001:db8::1]:5060", and a bare IPv6 literal
// ("2001:db8::1", no port). Writing brackets IPv6 literals.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace callready::net {

struct HostPort {
  std::string host;                   // without brackets
  std::optional<std::uint16_t> port;  // absent when the text has none
};

// nullopt when malformed: empty host, unclosed bracket, port not 1-65535.
std::optional<HostPort> parse_host_port(std::string_view text);

// "host:port", "[v6]:port"; without a port the host alone, unbracketed.
std::string format_host_port(std::string_view host, std::optional<std::uint16_t> port = std::nullopt);
std::string format_host_port(const boost::asio::ip::address& address, std::optional<std::uint16_t> port = std::nullopt);

}  // namespace callready::net
