#include "checks/common/framed_echo.hpp"

#include <algorithm>
#include <boost/asio/ip/v6_only.hpp>

#include "probe/net/host_port.hpp"

namespace callready::checks::framed {

bool length_ok(std::size_t length) { return length >= echo::kMinDatagram && length <= echo::kMaxDatagram; }

std::vector<std::uint8_t> frame(std::span<const std::uint8_t> datagram) {
  std::vector<std::uint8_t> framed(2 + datagram.size());
  boost::endian::store_big_u16(framed.data(), static_cast<std::uint16_t>(datagram.size()));
  std::copy(datagram.begin(), datagram.end(), framed.begin() + 2);
  return framed;
}

std::vector<std::uint8_t> framed_request(echo::Request request, std::string_view token) {
  if (request.sent_us == 0) request.sent_us = echo::now_us();
  return frame(echo::encode_request(request, token));
}

std::vector<std::uint8_t> framed_reply(const echo::Request& request, const echo::Observation& seen,
                                       std::string_view token, const echo::ReplyMarks& marks) {
  return frame(echo::encode_reply(request, seen, token, marks));
}

std::string listen_all(respond::ServiceHost& host, const std::vector<net::PortRange>& ranges, const std::string& label,
                       std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>>& acceptors,
                       const std::function<void(boost::asio::ip::tcp::acceptor&)>& prepare,
                       const std::function<void(boost::asio::ip::tcp::acceptor&, std::uint16_t)>& serve) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  auto listen = [&](const asio::ip::address& address, std::uint16_t port) -> std::string {
    boost::system::error_code ec;
    auto a = std::make_unique<tcp::acceptor>(host.io);
    tcp::endpoint where(address, port);
    a->open(where.protocol(), ec);
    if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) a->set_option(asio::ip::v6_only(true), ec);
    if (!ec && prepare) prepare(*a);
    if (!ec) a->bind(where, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return "bind " + label + " " + net::format_host_port(address, port) + ": " + ec.message();
    serve(*a, port);
    acceptors.push_back(std::move(a));
    return {};
  };
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host.options.bind_address, ec);
  if (ec) return "bad bind address \"" + host.options.bind_address + "\"";
  bool wildcard_v4 = address.is_v4() && address.to_v4().is_unspecified();
  bool v6_failed = false;
  for (const auto& range : ranges)
    for (unsigned port = range.first; port <= range.last; ++port) {
      auto p = static_cast<std::uint16_t>(port);
      if (auto err = listen(address, p); !err.empty()) return err;
      if (wildcard_v4 && !v6_failed && !listen(asio::ip::address_v6::any(), p).empty()) v6_failed = true;
    }
  if (v6_failed) host.log("debug", label + ": IPv6 wildcard not available, serving IPv4 only on some ports");
  return {};
}

}  // namespace callready::checks::framed
