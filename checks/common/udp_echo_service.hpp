#pragma once
// UDP echo on every port of opts.udp_ports (checks/common/echo_probe.hpp).
// Replies go out from the address the request was sent to (IP_PKTINFO), so a
// multi-homed responder answers correctly, and carry what was observed: the
// client's address and port after NAT, the TOS byte, the receive time.
// Per-source-address token bucket (opts.max_pps); nothing is answered when
// the token does not match.
//
// Echo v2 (echo_probe.hpp): a reply asked to carry `reply_tos` is sent with
// that TOS / traffic class (IP_TOS / IPV6_TCLASS ancillary data on this one
// datagram); a reply asked to wait `reply_delay_ms` is sent by a timer from
// the same socket to the request's observed source and from the address the
// request was sent to, once. Deferred replies are bounded (DeferralBudget);
// past the bound the reply goes out at once, without the kReplyDelay flag.
#include <netinet/in.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/respond/rate_limiter.hpp"
#include "probe/respond/service.hpp"
#include "probe/respond/session_log.hpp"

namespace callready::checks {

using respond::RateLimiter;
using respond::ResponderLog;
using respond::ResponderOptions;
using respond::SessionLog;

struct EchoStats {
  std::uint64_t answered = 0, rate_limited = 0, unauthenticated = 0, malformed = 0, send_errors = 0, deferred = 0,
                deferral_refused = 0;
};

// Bounds on replies waiting for their reply_delay_ms, per source address and
// in all, for one service (the UDP echo and the TCP echo each own one). With
// a token set only keyed requests decode at all, so only they can defer.
class DeferralBudget {
 public:
  static constexpr std::size_t kPerSource = 64;
  static constexpr std::size_t kGlobal = 4096;
  bool acquire(const boost::asio::ip::address& source);
  void release(const boost::asio::ip::address& source);
  std::size_t pending() const { return total_; }

 private:
  std::map<boost::asio::ip::address, std::size_t> per_source_;
  std::size_t total_ = 0;
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
  // Where a reply goes and from which local address (IP_PKTINFO).
  struct Route {
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    bool have_pktinfo = false;
    in_pktinfo pi4{};
    in6_pktinfo pi6{};
  };
  struct Deferred {
    Port* port;
    Route route;
    boost::asio::ip::address source;
    std::vector<std::uint8_t> bytes;
    std::optional<std::uint8_t> tos;
    std::unique_ptr<Timer> timer;
  };
  std::string bind(const boost::asio::ip::address& address, std::uint16_t port);
  void arm(Port& p);
  void drain(Port& p);
  bool send(Port& p, const Route& route, const std::vector<std::uint8_t>& bytes, std::optional<std::uint8_t> tos);

  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  std::vector<net::PortRange> ranges_;
  SessionLog& sessions_;
  ResponderLog log_;
  RateLimiter limiter_;
  EchoStats stats_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<std::uint8_t> buffer_;
  DeferralBudget deferrals_;
  std::list<Deferred> pending_;
  bool stopped_ = false;
};

// `callready respond --udp-ports LIST`: the echo many kinds share (udp_range,
// pmtu, and the media, DSCP and NAT-timeout kinds).
respond::ServiceKind udp_echo_service();

}  // namespace callready::checks
