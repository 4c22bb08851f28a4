#pragma once
// The client side of the UDP echo probe (checks/common/echo_probe.hpp), shared by
// every check that talks to `callready respond` over UDP (udp_range, pmtu,
// dscp, ...). One unconnected socket can probe many destinations: replies are
// matched by the caller (session/sequence), and ICMP errors arrive through
// IP_RECVERR with the destination of the probe that caused them, so a caller
// maps "port unreachable" back to the port it probed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "checks/common/echo_probe.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks {

// An error the kernel queued for one of our datagrams (sock_extended_err).
struct IcmpError {
  boost::asio::ip::udp::endpoint destination;        // where the offending probe went
  int error = 0;                                     // errno: ECONNREFUSED, EHOSTUNREACH, EMSGSIZE, ...
  std::uint8_t origin = 0;                           // SO_EE_ORIGIN_ICMP / ICMP6 / LOCAL
  std::uint8_t type = 0, code = 0;                   // ICMP type and code
  std::uint32_t info = 0;                            // the MTU for "fragmentation needed" / "packet too big"
  std::optional<boost::asio::ip::address> offender;  // who sent the ICMP (router vs server)

  bool port_unreachable() const;         // ICMP 3/3 or ICMPv6 1/4
  bool destination_unreachable() const;  // any ICMP 3/x or ICMPv6 1/x
  bool too_big() const;                  // 3/4, ICMPv6 2, or a local EMSGSIZE
  std::string describe() const;          // "port unreachable from 203.0.113.1"
};

struct EchoEvent {
  enum class Kind { reply, icmp } kind = Kind::reply;
  echo::Reply reply;                    // kind == reply
  boost::asio::ip::udp::endpoint from;  // kind == reply: who sent it
  std::uint8_t tos = 0;                 // kind == reply: TOS/TCLASS the reply arrived with
  IcmpError icmp;                       // kind == icmp
  Clock::time_point at;
};

struct EchoSocketOptions {
  std::string token;                                    // shared secret; empty = unkeyed probes
  std::optional<boost::asio::ip::udp::endpoint> local;  // bind here (e.g. a source port); default ephemeral
  bool reuse_address = false;                           // let several sockets share a source port
  int tos = -1;                                         // IP_TOS / IPV6_TCLASS to send with; -1 = leave
  bool dont_fragment = false;                           // IP_PMTUDISC_PROBE: set DF, let oversize datagrams out (pmtu)
};

class EchoSocket {
 public:
  explicit EchoSocket(boost::asio::any_io_executor ex);
  ~EchoSocket();
  EchoSocket(const EchoSocket&) = delete;
  EchoSocket& operator=(const EchoSocket&) = delete;

  // Opens (and binds, with options.local) a socket of `protocol`; an error
  // with reason `local` and operation `bind` when this machine cannot.
  std::optional<CheckError> open(const boost::asio::ip::udp& protocol, const EchoSocketOptions& options);
  boost::asio::ip::udp::endpoint local_endpoint() const;

  // Encodes and sends one probe; the send's error (would_block, EMSGSIZE, ...),
  // for net::classify.
  boost::system::error_code send(const boost::asio::ip::udp::endpoint& to, const echo::Request& request);

  // The next valid reply or queued ICMP error; nullopt at `deadline` or once closed.
  // Datagrams that do not decode or authenticate are skipped.
  boost::asio::awaitable<std::optional<EchoEvent>> receive(Clock::time_point deadline);

  void close();
  bool is_open() const;

 private:
  std::optional<EchoEvent> poll_once(bool& would_block);
  boost::asio::ip::udp::socket socket_;
  std::string token_;
};

struct EchoExchange {
  boost::system::error_code send_error;  // the send's, when it was not sent
  std::optional<EchoEvent> event;        // the matching reply or ICMP error; nullopt on silence
  std::chrono::microseconds rtt{0};      // for a reply
  std::optional<CheckError> error;       // when the socket could not be opened
};

// Sends one probe to `to` and awaits its reply (matched by session and
// sequence) or an ICMP error for that destination, up to `timeout`.
boost::asio::awaitable<EchoExchange> echo_once(boost::asio::any_io_executor ex, boost::asio::ip::udp::endpoint to,
                                               EchoSocketOptions options, echo::Request request,
                                               std::chrono::milliseconds timeout);

}  // namespace callready::checks
