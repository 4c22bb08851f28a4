#pragma once
// UDP echo on every port of opts.udp_ports (probe/wire/echo_probe.hpp).
// Replies go out from the address the request was sent to (IP_PKTINFO), so a
// multi-homed responder answers correctly, and carry what was observed: the
// client's address and port after NAT, the TOS byte, the receive time.
// Per-source-address token bucket (opts.max_pps); nothing is answered when
// the token does not match.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probe/respond/services.hpp"
#include "probe/respond/session_log.hpp"

namespace callready::respond {

// Token bucket per source address: `rate` per second, bursts up to `rate`.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxSources = 65536;
  explicit RateLimiter(int rate) : rate_(rate > 0 ? rate : 1) {}
  bool allow(const boost::asio::ip::address& source, Clock::time_point now);
  void forget_idle(Clock::time_point now);  // drops sources whose bucket is full again
  std::size_t sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  double rate_;
  std::map<boost::asio::ip::address, Bucket> buckets_;
};

struct EchoStats {
  std::uint64_t answered = 0, rate_limited = 0, unauthenticated = 0, malformed = 0, send_errors = 0;
};

class UdpEchoService {
 public:
  UdpEchoService(boost::asio::io_context& io, const ResponderOptions& opts, SessionLog& sessions, ResponderLog log);
  ~UdpEchoService();
  // Binds every port (IPv4, plus IPv6 when bound to the wildcard); "" or what failed.
  std::string start();
  void stop();
  std::size_t sockets() const { return ports_.size(); }
  const EchoStats& stats() const { return stats_; }
  void housekeeping(RateLimiter::Clock::time_point now) { limiter_.forget_idle(now); }

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
  SessionLog& sessions_;
  ResponderLog log_;
  RateLimiter limiter_;
  EchoStats stats_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace callready::respond
