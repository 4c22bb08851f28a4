#pragma once
// The responder's control port (protocol in probe/net/responder_control.hpp)
// on the responder's io_context.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "probe/respond/control_sessions.hpp"
#include "probe/respond/service.hpp"

namespace callready::respond {

// "ADDR:PORT", "[v6]:PORT", "ADDR" or ":PORT"/"PORT"; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& text);

// Running services by name, for {"op":"service"} requests on the control port.
using ServiceRoutes = std::map<std::string, RunningService*>;

// The longest request line the control port reads.
inline constexpr std::size_t kMaxControlLine = kMaxServiceMessage + 1024;
// The deepest nesting of arrays and objects a request line may have.
inline constexpr int kMaxControlDepth = 32;

// What the control port makes of one request line, before any service is
// asked. Never throws, whatever the bytes.
struct ControlRequest {
  enum class Op { hello, service };
  Op op = Op::hello;
  std::string error;  // "" when accepted, else "too_large" | "bad_request" | "unauthorized"
  // hello: how long the echo session it opens should last ("session_s", at
  // most ControlSessions::kMaxLifetime; that when absent). Only with a token.
  std::chrono::seconds session_lifetime = ControlSessions::kMaxLifetime;
  std::string service;      // service: the service's name
  nlohmann::json request;   // service: the request object for it
  std::string description;  // " hello", " service \"NAME\"": for the log line
  bool accepted() const { return error.empty(); }
};
// `nonce` is the one this connection's greeting carried; the proof is checked
// against opts.token (nothing is required without one).
ControlRequest read_control_request(std::string_view line, const ResponderOptions& opts, const std::string& nonce);

// Listens on opts.listen; on the IPv4 wildcard (the default) also on the
// IPv6 wildcard with the same port, when the host has IPv6.
class ControlServer {
 public:
  // `sessions`: where a hello that proved the token opens the client's echo
  // session (null: none are opened, keyed UDP echo probes go unanswered).
  ControlServer(boost::asio::io_context& io, const ResponderOptions& opts, ResponderLog log,
                ServiceRoutes services = {}, ControlSessions* sessions = nullptr);
  std::string start();  // "" or what failed
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  ResponderLog log_;
  ServiceRoutes services_;
  ControlSessions* sessions_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor acceptor6_;  // [::] beside 0.0.0.0, when the host has IPv6
};

}  // namespace callready::respond
