#pragma once
// ICMP errors on an unconnected UDP socket. Without IP_RECVERR /
// IPV6_RECVERR Linux drops them for unconnected sockets, so a closed port
// looks exactly like a firewall that drops: a check waits out its whole
// schedule and blames the firewall. With it, the first ICMP error wakes the
// receive (ECONNREFUSED, EHOSTUNREACH, ...) and sits on the error queue with
// the destination of the datagram that caused it and who sent it (the target
// itself: a closed port; a router: a REJECT on the path).
#include <boost/asio/ip/udp.hpp>
#include <optional>

#include "checks/common/echo_client.hpp"

namespace callready::checks {

// Turns on IP_RECVERR / IPV6_RECVERR on an open socket.
void enable_icmp_errors(boost::asio::ip::udp::socket& sock);

struct QueuedError {
  bool consumed = false;          // an entry was taken off the queue (false: the queue was empty)
  std::optional<IcmpError> icmp;  // the entry, when it carried the extended error
};

// Takes one entry off the socket's error queue, without blocking.
QueuedError read_icmp_error(int fd);

}  // namespace callready::checks
