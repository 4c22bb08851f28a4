#pragma once
// UDP echo on every port of opts.udp_ports (checks/common/echo_probe.hpp).
// Replies go out from the address the request was sent to (IP_PKTINFO), so a
// multi-homed responder answers correctly, and carry what was observed: the
// client's address and port after NAT, the TOS byte, the receive time.
// Per-source-address token bucket (opts.max_pps); nothing is answered when
// the token does not match.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/service.hpp"
#include "probe/respond/session_log.hpp"

namespace callready::checks {

using respond::RateLimiter;
using respond::ResponderLog;
using respond::ResponderOptions;
using respond::SessionLog;

struct EchoStats {
  std::uint64_t answered = 0, rate_limited = 0, unauthenticated = 0, malformed = 0, send_errors = 0;
};

class UdpEchoService : public respond::RunningService {
 public:
  UdpEchoService(boost::asio::io_context& io, const ResponderOptions& opts, SessionLog& sessions, ResponderLog log,
                 std::vector<net::PortRange> ports);
  ~UdpEchoService() override;
  // Binds every port (IPv4, plus IPv6 when bound to the wildcard); "" or what failed.
  std::string start();
  void stop() override;
  void housekeeping(Clock::time_point now) override { limiter_.forget_idle(now); }
  std::string summary() const override;

 private:
  struct Port {
    boost::asio::ip::udp::socket socket;
    std::uint16_t number;
    bool v6;
  };
  std::string bind(const boost::asio::ip::address& address, std::uint16_t port);
  void arm(Port& p);
  void drain(Port& p);

  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  std::vector<net::PortRange> ranges_;
  SessionLog& sessions_;
  ResponderLog log_;
  RateLimiter limiter_;
  EchoStats stats_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<std::uint8_t> buffer_;
};

// `callready respond --udp-ports LIST`: the echo many kinds share (udp_range,
// pmtu, and the media, DSCP and NAT-timeout kinds).
respond::ServiceKind udp_echo_service();

}  // namespace callready::checks
