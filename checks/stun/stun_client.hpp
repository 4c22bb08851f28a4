#pragma once
// One STUN Binding transaction, client side: over UDP with RFC 5389 §7.2.1
// retransmission (on callready::Timer, so tests run the schedule in virtual
// time), over TCP as one request on a fresh connection. It measures and
// decides nothing: what failed is data (the operation and the socket error as
// net::classify sorts it).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/echo_client.hpp"
#include "checks/stun/stun_codec.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/path_rtt.hpp"

namespace callready::checks::stun {

// RFC 5389: RTO 500 ms, doubling, Rc = 7 sends, then Rm = 16 RTOs of waiting
// after the last: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms, give up
// at 39500 ms. `budget` caps the whole transaction (the check's deadline).
//
// silence_from_rtt: no answer would mean "blocked" or "filtered", so once this
// scan knows an RTT to the server's address (net::path_rtt) silence is waited
// out for max(4 x RTT, 250 ms) (net::silence_wait_for, never past `budget`),
// with sends at 0, 1/4 and 3/4 of it (silence_schedule), instead of this
// schedule for an unknown path. Worked out again while waiting: an RTT
// another check records meanwhile shortens the wait, counted from the start.
struct Retransmission {
  Millis rto{500};
  int max_sends = 7;
  int final_wait_rtos = 16;
  Millis budget{39500};
  bool silence_from_rtt = false;
};

// The schedule that waits out silence for exactly `rule.wait`: three sends,
// a quarter of it apart then half of it, against a lost request or answer.
Retransmission silence_schedule(const net::SilenceWait& rule);

// What a Binding request may carry beyond the bare header.
struct RequestOptions {
  bool change_ip = false;
  bool change_port = false;
  // Our responder with --token: the request carries USERNAME kUsername and
  // MESSAGE-INTEGRITY keyed with this password (RFC 5389 §10.1 short-term
  // credential), padded with RFC 5780 PADDING to kAuthenticatedRequestBytes so
  // that the signed answer is never larger than the request. A response that
  // carries MESSAGE-INTEGRITY must verify with it. Empty: a plain request (any
  // third-party server).
  std::string password;
};
inline constexpr std::string_view kUsername = "callready";
// The largest answer our responder sends (IPv6, RFC 5780 attributes, SOFTWARE,
// MESSAGE-INTEGRITY, FINGERPRINT) is 164 bytes.
inline constexpr std::size_t kAuthenticatedRequestBytes = 164;

struct Exchange {
  bool answered = false;        // a well-formed response with our transaction id arrived
  Message response;             // when answered
  Endpoint responder;           // where the response came from
  Endpoint local;               // the socket's local address (TCP: the connection's)
  double rtt_ms = 0;            // from the first send to the response
  std::vector<Millis> sent_at;  // each request's send time, from the first send
  Clock::duration elapsed{};    // from the first send to the answer or the give-up
  // When silence ended it: how long it was waited out and why that long
  // (basis rtt: the path's RTT; timeout: the plan's schedule and budget).
  std::optional<net::SilenceWait> silence;
  int sent() const { return static_cast<int>(sent_at.size()); }

  // When not answered: the step that failed (connect, send, receive, parse),
  // the socket error as classified (none: silence), and what happened.
  Operation failed = Operation::none;
  std::optional<net::NetFailure> failure;
  std::string error;
  std::string junk;  // something arrived that was not our response: why
  // UDP: the ICMP error for a request to `server` that ended the wait (port
  // unreachable from the server itself: a closed port; from another address:
  // a REJECT on the path).
  std::optional<IcmpError> icmp;
};

Bytes binding_request(const TransactionId& id, const RequestOptions& opts);

// `sock` must be open (and bound); responses from any source are accepted, so
// RFC 5780 CHANGE-REQUEST answers from the alternate address count. ICMP
// errors are turned on for the socket: the first one for a request to
// `server` ends the exchange at once (a closed port answers within one RTT;
// waiting out the schedule would only make it look like a silent drop).
// An answer to the first request, from the address it went to, is an RTT
// sample: recorded in net::path_rtt for every check's silence waits (after a
// retransmission the sample is ambiguous and not recorded: Karn's rule).
boost::asio::awaitable<Exchange> udp_exchange(boost::asio::ip::udp::socket& sock, Endpoint server, RequestOptions opts,
                                              Retransmission plan);

// Connect, send one request, read one framed response. The connect's and the
// answer's RTTs are recorded in net::path_rtt; a connect nobody answers is
// given up after max(4 x RTT, 250 ms) when an RTT to the address is known
// (Exchange::silence), else after connect_limit.
boost::asio::awaitable<Exchange> tcp_exchange(Endpoint server, Millis connect_limit, Millis answer_limit,
                                              RequestOptions opts);

// The local address the kernel would use towards `server` (a connected UDP
// socket's name; no packet is sent), or the error connect() gave.
struct Route {
  std::optional<boost::asio::ip::address> local;
  boost::system::error_code error;
};
Route local_address_towards(const Endpoint& server);

}  // namespace callready::checks::stun
