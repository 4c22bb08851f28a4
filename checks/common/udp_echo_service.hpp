#pragma once
// UDP echo on every port of opts.udp_ports (checks/common/echo_probe.hpp).
// Replies go out from the address the request was sent to (IP_PKTINFO), so a
// multi-homed responder answers correctly, and carry what was observed: the
// client's address and port after NAT, the TOS byte, the receive time.
// Per-source-address token bucket (opts.max_pps); nothing is answered when
// the token does not match. With a token, a probe is answered only from an
// address whose control session is open (probe/respond/control_sessions.hpp:
// a hello that proved the token, within its lifetime): a captured keyed probe
// replayed from any other source, or later, is dropped unanswered.
//
// Echo v2 (echo_probe.hpp): a reply asked to carry `reply_tos` is sent with
// that TOS / traffic class (IP_TOS / IPV6_TCLASS ancillary data on this one
// datagram); a reply asked to wait `reply_delay_ms` is sent by a timer from
// the same socket to the request's observed source and from the address the
// request was sent to, once. Deferred replies are bounded (DeferralBudget);
// past the bound the reply goes out at once, without the kReplyDelay flag.
//
// Echo v3 (media streams): each (source, session) has a fixed-size record
// (StreamSessions) of what arrived, written into every reply. Records are
// bounded in number, per source address and in all, and expire when idle; a
// v3 request that finds no room is dropped and counted (never answered
// without its record, which would read as loss).
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
#include <tuple>
#include <vector>

#include "checks/common/echo_probe.hpp"
#include "probe/clock.hpp"
#include "probe/respond/control_sessions.hpp"
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
                deferral_refused = 0, streams_refused = 0, no_session = 0;
};

// The responder's record of each v3 stream: what arrived, in a fixed size.
class StreamSessions {
 public:
  static constexpr std::size_t kPerSource = 256;
  static constexpr std::size_t kGlobal = 4096;
  static constexpr std::chrono::seconds kIdle{30};
  struct Key {
    boost::asio::ip::udp::endpoint source;
    std::uint64_t session = 0;
    bool operator<(const Key& o) const { return std::tie(source, session) < std::tie(o.source, o.session); }
  };
  // Records `sequence` and returns the session's view (clock fields left
  // empty); nullopt when a new session finds no room.
  std::optional<echo::StreamView> observe(const Key& key, std::uint32_t sequence, Clock::time_point now);
  void expire(Clock::time_point now);
  std::size_t size() const { return sessions_.size(); }

 private:
  struct Record {
    echo::StreamView view;
    Clock::time_point last_seen;
  };
  std::map<Key, Record> sessions_;
  std::map<boost::asio::ip::address, std::size_t> per_source_;
  void erase(std::map<Key, Record>::iterator it);
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
  // `control_sessions`: where the control port opened echo sessions; with a
  // token and none (null), no probe is answered.
  UdpEchoService(boost::asio::io_context& io, const ResponderOptions& opts, SessionLog& sessions, ResponderLog log,
                 std::vector<net::PortRange> ports, const respond::ControlSessions* control_sessions);
  ~UdpEchoService() override;
  // Binds every port (IPv4, plus IPv6 when bound to the wildcard); "" or what failed.
  std::string start();
  void stop() override;
  void housekeeping(Clock::time_point now) override {
    limiter_.forget_idle(now);
    streams_.expire(now);
  }
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
  // The v3 record for `request` with this host's clock state; nullopt when refused.
  std::optional<echo::StreamView> stream_view(const echo::Request& request, const boost::asio::ip::udp::endpoint& from,
                                              Clock::time_point now);

  boost::asio::io_context& io_;
  const ResponderOptions& opts_;
  std::vector<net::PortRange> ranges_;
  SessionLog& sessions_;
  const respond::ControlSessions* control_sessions_;
  ResponderLog log_;
  RateLimiter limiter_;
  EchoStats stats_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<std::uint8_t> buffer_;
  DeferralBudget deferrals_;
  std::list<Deferred> pending_;
  StreamSessions streams_;
  echo::StreamView clock_;  // clock fields only, re-read at most once a second
  std::optional<Clock::time_point> clock_read_at_;
  bool stopped_ = false;
};

// `callready respond --udp-ports LIST`: the echo many kinds share (udp_range,
// pmtu, and the media, DSCP and NAT-timeout kinds).
respond::ServiceKind udp_echo_service();

}  // namespace callready::checks
