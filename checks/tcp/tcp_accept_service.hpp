#pragma once
// `callready respond --tcp-ports LIST`: the far end of the `tcp` kind and the
// TCP echo of the echo probe (checks/common/echo_probe.hpp).
//
// Every port accepts (IPv4, plus IPv6 when bound to the wildcard and the host
// has it); a client that only connects and closes is the `tcp` kind's
// reachability check. On an accepted connection the service reads RFC 4571
// frames (2-byte big-endian length, then one echo request of kMinDatagram to
// kMaxDatagram bytes) and answers each with one framed reply, in order of
// sending. The reply's observation carries:
//   - tos: the TOS / traffic class byte of the client's SYN (TCP_SAVE_SYN on
//     the listener, TCP_SAVED_SYN on the accepted socket), the same for every
//     request of the connection; the client sets its TOS before connect(),
//   - the client's address and port as seen here, the receive time and size.
// Echo v2 options: reply_tos is set with IP_TOS / IPV6_TCLASS on the
// connection before the reply is written (Linux keeps the connection's own
// ECN bits on TCP: only the DSCP part of the byte applies), and put back to 0
// after a reply without it; reply_delay_ms defers the reply on the same
// connection (bounded by DeferralBudget and kMaxDeferredPerConnection; past the
// bound it goes out at once without the kReplyDelay flag).
//
// Bounds: kMaxConnectionsPerSource and kMaxConnections; a connection closes
// kIdle after the last byte received or the last deferred reply sent, never
// while a deferred reply is pending; a frame outside [kMinDatagram,
// kMaxDatagram], a request that does not decode, or one that fails the token
// closes the connection (silently: no oracle for token guessing).
#include <chrono>
#include <cstddef>

#include "probe/respond/service.hpp"

namespace callready::checks {

struct TcpEchoLimits {
  static constexpr std::size_t kMaxConnections = 256;
  static constexpr std::size_t kMaxConnectionsPerSource = 32;
  static constexpr std::size_t kMaxDeferredPerConnection = 16;
  static constexpr std::chrono::seconds kIdle{30};
};

respond::ServiceKind tcp_accept_service();

}  // namespace callready::checks
