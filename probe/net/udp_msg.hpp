#pragma once
// One non-blocking recvmsg with room for the peer's address and control
// messages (IP_TOS/IPV6_TCLASS, IP_PKTINFO, IP_RECVERR), shared by the echo
// client and the responder's echo service.
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <cstring>

namespace callready::net {

inline boost::asio::ip::udp::endpoint endpoint_from_sockaddr(const sockaddr* sa) {
  boost::asio::ip::udp::endpoint ep;
  if (sa->sa_family == AF_INET) std::memcpy(ep.data(), sa, sizeof(sockaddr_in));
  if (sa->sa_family == AF_INET6) std::memcpy(ep.data(), sa, sizeof(sockaddr_in6));
  return ep;
}

struct UdpRecv {
  sockaddr_storage peer{};
  alignas(8) std::uint8_t control[512];
  iovec iov{};
  msghdr msg{};

  // recvmsg(fd, flags | MSG_DONTWAIT) into `buf`; the byte count or -1 (errno set).
  ssize_t receive(int fd, void* buf, std::size_t len, int flags = 0) {
    iov = {buf, len};
    msg = msghdr{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof peer;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    return ::recvmsg(fd, &msg, flags | MSG_DONTWAIT);
  }
  boost::asio::ip::udp::endpoint peer_endpoint() const {
    return endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&peer));
  }
  // The TOS / traffic class byte the datagram arrived with (IP_RECVTOS / IPV6_RECVTCLASS), 0 when absent.
  std::uint8_t tos() {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) return *CMSG_DATA(c);
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        int tclass = 0;
        std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
        return static_cast<std::uint8_t>(tclass);
      }
    }
    return 0;
  }
};

}  // namespace callready::net
