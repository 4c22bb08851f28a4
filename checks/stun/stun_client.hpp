#pragma once
// One STUN Binding transaction, client side: over UDP with RFC 5389 §7.2.1
// retransmission, over TCP as one request on a fresh connection.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "checks/stun/stun_codec.hpp"

namespace callready::checks::stun_client {

namespace stun = wire::stun;
using Millis = std::chrono::milliseconds;

// RFC 5389: RTO 500 ms, doubling, Rc = 7 sends, then Rm = 16 RTOs of waiting.
// `budget` caps the whole transaction (the check's deadline).
struct Retransmission {
  Millis rto{500};
  int max_sends = 7;
  int final_wait_rtos = 16;
  Millis budget{39500};
};

// What a Binding request may carry beyond the bare header.
struct RequestOptions {
  bool change_ip = false;
  bool change_port = false;
};

struct Exchange {
  bool answered = false;     // a well-formed response with our transaction id arrived
  stun::Message response;    // when answered
  stun::Endpoint responder;  // where the response came from
  double rtt_ms = 0;         // from the first send to the response
  int sent = 0;              // requests sent (UDP retransmissions included)
  std::string error;         // when not answered: what happened
  std::string junk;          // a reason, when something arrived that did not parse as our response
  stun::Endpoint local;      // the socket's local address (TCP: the connection's)
};

stun::Bytes binding_request(const stun::TransactionId& id, const RequestOptions& opts);

// `sock` must be open (and bound); responses from any source are accepted, so
// RFC 5780 CHANGE-REQUEST answers from the alternate address count.
boost::asio::awaitable<Exchange> udp_exchange(boost::asio::ip::udp::socket& sock, stun::Endpoint server,
                                              RequestOptions opts, Retransmission plan);

// Connect, send one request, read one framed response.
boost::asio::awaitable<Exchange> tcp_exchange(stun::Endpoint server, Millis connect_limit, Millis answer_limit);

// The local address the kernel would use towards `server` (a connected UDP
// socket's name; no packet is sent). nullopt when there is no route.
std::optional<boost::asio::ip::address> local_address_towards(const stun::Endpoint& server);

}  // namespace callready::checks::stun_client
