#pragma once
// The responder's control port (protocol in probe/net/responder_control.hpp)
// on the responder's io_context.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probe/respond/service.hpp"

namespace callready::respond {

// "ADDR:PORT", "[v6]:PORT", "ADDR" or ":PORT"/"PORT"; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& text);

// Running services by name, for {"op":"service"} requests on the control port.
using ServiceRoutes = std::map<std::string, RunningService*>;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, const ResponderOptions& opts, ResponderLog log,
                ServiceRoutes services = {});
  std::string start();  // "" or what failed
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  ResponderLog log_;
  ServiceRoutes services_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace callready::respond
