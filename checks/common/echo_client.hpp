#pragma once
// The client side of the UDP echo probe (checks/common/echo_probe.hpp), shared by
// every check that talks to `callready respond` over UDP (udp_range, pmtu,
// dscp, ...). One unconnected socket can probe many destinations: replies are
// matched by the caller (session/sequence), and ICMP errors arrive through
// IP_RECVERR with the destination of the probe that caused them, so a caller
// maps "port unreachable" back to the port it probed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  // junk: a datagram that is not a valid reply (only with EchoSocketOptions::report_junk).
  enum class Kind { reply, icmp, junk } kind = Kind::reply;
  echo::Reply reply;                    // kind == reply
  boost::asio::ip::udp::endpoint from;  // kind == reply or junk: who sent it
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
  bool report_junk = false;  // datagrams that do not decode come back as Kind::junk instead of being skipped
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
  bool report_junk_ = false;
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

// ---------------------------------------------------------------------------
// The echo probe over TCP (`callready respond --tcp-ports`): RFC 4571 frames
// (2-byte big-endian length + one echo datagram) on one connection. The
// responder answers each request with one framed reply, in order; the reply's
// observation `seen.tos` is the TOS of our SYN (the same for the connection),
// `marks.tcp` is set.

struct EchoStreamOptions {
  std::string token;                                    // shared secret; empty = unkeyed probes
  std::optional<boost::asio::ip::tcp::endpoint> local;  // bind here first (e.g. a source port); default ephemeral
  bool reuse_address = false;                           // SO_REUSEADDR before bind
  int tos = -1;  // IP_TOS / IPV6_TCLASS, set before connect() so the SYN carries it; -1 = leave
  // Read the TOS of arriving segments: IPv6 with IPV6_RECVTCLASS (per
  // segment, read after each reply); IPv4 only with CAP_NET_RAW (a raw TCP
  // socket sees the IP header; Linux keeps no per-segment TOS for a TCP
  // client). Unreadable -> EchoStreamReply::tos is nullopt, never a guess.
  bool read_tos = false;
};

struct EchoStreamReply {
  echo::Reply reply;
  // TOS / traffic class of the latest segment received when this reply was
  // taken (see read_tos): send one request at a time, waiting for its reply,
  // when each reply's marking matters.
  std::optional<std::uint8_t> tos;
  Clock::time_point at;
};

class EchoStream {
 public:
  explicit EchoStream(boost::asio::any_io_executor ex);
  ~EchoStream();
  EchoStream(const EchoStream&) = delete;
  EchoStream& operator=(const EchoStream&) = delete;

  // Opens, binds (options.local), sets the TOS and connects within `timeout`.
  // The error: a bind failure is a CheckError with reason `local`; a connect
  // failure comes back as `connect_error` (classify it with net::classify).
  struct ConnectResult {
    std::optional<CheckError> error;          // this machine could not open/bind
    boost::system::error_code connect_error;  // refused, timed_out (after `timeout`), unreachable, ...
    bool ok() const { return !error && !connect_error; }
  };
  boost::asio::awaitable<ConnectResult> connect(boost::asio::ip::tcp::endpoint to, EchoStreamOptions options,
                                                std::chrono::milliseconds timeout);

  // Frames and writes one request (encoded with the token; v2 when it has
  // reply_tos / reply_delay_ms). The write's error, if any.
  boost::asio::awaitable<boost::system::error_code> send(echo::Request request);

  // The next reply that decodes and authenticates; nullopt at `deadline`
  // (last_error(): timed_out; the connection stays open and usable), when
  // the connection ends (eof, connection_reset, ...: closed) or when a frame
  // is malformed (invalid_argument: closed).
  boost::asio::awaitable<std::optional<EchoStreamReply>> receive(Clock::time_point deadline);
  boost::system::error_code last_error() const { return last_error_; }

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  bool is_open() const { return socket_.is_open(); }
  void close();

 private:
  std::optional<std::uint8_t> read_tos();
  boost::asio::ip::tcp::socket socket_;
  std::string token_;
  bool read_tos_ = false;
  int raw_fd_ = -1;  // IPv4 with CAP_NET_RAW: a raw TCP socket to read the TOS of arriving segments
  boost::asio::ip::tcp::endpoint remote_;
  std::optional<std::uint8_t> last_raw_tos_;
  std::vector<std::uint8_t> rx_;  // bytes received, not yet a whole frame
  boost::system::error_code last_error_;
};

}  // namespace callready::checks
