#include "checks/common/icmp_error_queue.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "probe/net/udp_msg.hpp"

namespace callready::checks {

void enable_icmp_errors(boost::asio::ip::udp::socket& sock) {
  // Both levels: an IPv6 socket may carry IPv4-mapped traffic; the call that
  // does not apply to the socket's family fails harmlessly.
  int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  ::setsockopt(sock.native_handle(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
}

QueuedError read_icmp_error(int fd) {
  QueuedError out;
  net::UdpRecv rx;
  std::uint8_t payload[64];
  if (rx.receive(fd, payload, sizeof payload, MSG_ERRQUEUE) < 0) return out;
  out.consumed = true;
  for (cmsghdr* c = CMSG_FIRSTHDR(&rx.msg); c; c = CMSG_NXTHDR(&rx.msg, c)) {
    bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
    bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    IcmpError e;
    e.destination = rx.peer_endpoint();
    e.error = static_cast<int>(ee.ee_errno);
    e.origin = ee.ee_origin;
    e.type = ee.ee_type;
    e.code = ee.ee_code;
    e.info = ee.ee_info;
    const auto* off = reinterpret_cast<const sockaddr*>(reinterpret_cast<const std::uint8_t*>(CMSG_DATA(c)) +
                                                        sizeof(sock_extended_err));
    if (off->sa_family == AF_INET || off->sa_family == AF_INET6)
      e.offender = net::endpoint_from_sockaddr(off).address();
    out.icmp = e;
    break;
  }
  return out;
}

}  // namespace callready::checks
