#include "checks/tcp/tcp_accept_service.hpp"

#include <boost/asio/ip/tcp.hpp>

#include "probe/net/host_port.hpp"
#include "probe/respond/session_log.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::tcp;
using respond::SessionLog;

namespace {

class TcpAcceptService : public respond::RunningService {
 public:
  explicit TcpAcceptService(respond::ServiceHost& host) : host_(host) {}

  std::string start(const std::vector<net::PortRange>& ranges) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host_.options.bind_address, ec);
    if (ec) return "bad bind address \"" + host_.options.bind_address + "\"";
    for (const auto& range : ranges)
      for (unsigned port = range.first; port <= range.last; ++port) {
        auto a = std::make_unique<tcp::acceptor>(host_.io);
        tcp::endpoint where(address, static_cast<unsigned short>(port));
        a->open(where.protocol(), ec);
        if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) a->bind(where, ec);
        if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
          return "bind TCP " + net::format_host_port(address, static_cast<std::uint16_t>(port)) + ": " + ec.message();
        accept(*a, static_cast<std::uint16_t>(port));
        acceptors_.push_back(std::move(a));
      }
    return {};
  }

  void stop() override {
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
  }

 private:
  void accept(tcp::acceptor& a, std::uint16_t port) {
    a.async_accept([this, &a, port](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !a.is_open()) return;
      if (!ec) {
        boost::system::error_code ignored;
        auto peer = socket.remote_endpoint(ignored);
        host_.sessions.record("tcp-connect", peer.address(), 0, peer.port(), port, SessionLog::Outcome::accepted,
                              Clock::now());
        socket.close(ignored);
      }
      accept(a, port);
    });
  }

  respond::ServiceHost& host_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
};

}  // namespace

respond::ServiceKind tcp_accept_service() {
  respond::ServiceKind k;
  k.name = "tcp_accept";
  k.flag = "--tcp-ports";
  k.help = "TCP ports to accept and close (reachability targets)";
  k.sockets_per_port = 2;
  k.start = [](respond::ServiceHost& host, const std::vector<net::PortRange>& ports,
               std::string& error) -> std::unique_ptr<respond::RunningService> {
    auto service = std::make_unique<TcpAcceptService>(host);
    error = service->start(ports);
    if (!error.empty()) return nullptr;
    return service;
  };
  return k;
}

}  // namespace callready::checks
