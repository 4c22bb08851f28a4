#pragma once
// The responder's control port (protocol in probe/net/responder_control.hpp)
// on the responder's io_context.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "probe/respond/service.hpp"

namespace callready::respond {

// "ADDR:PORT", "[v6]:PORT", "ADDR" or ":PORT"/"PORT"; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& text);

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, const ResponderOptions& opts, ResponderLog log);
  std::string start();  // "" or what failed
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  ResponderLog log_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace callready::respond
