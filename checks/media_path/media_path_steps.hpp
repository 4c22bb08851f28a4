#pragma once
// The rungs of the media_path ladder, each a measurement of one transport to
// one port of the responder: it says what happened (PathAttempt) and decides
// nothing. Every wait is bounded by `wait` (the caller takes it from the
// check's budget). A fault of this machine (cannot open a socket) comes back
// as a CheckError with reason `local`.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <optional>
#include <string>

#include "checks/common/http_proxy.hpp"
#include "checks/media_path/media_path_check.hpp"

namespace callready::checks::media_path {

struct Step {
  PathAttempt attempt;
  std::optional<CheckError> error;  // local: nothing learnt about the network
};

// Echo probes to `to`, resent on a backoff until a reply, an ICMP error for
// that destination, or `wait`.
boost::asio::awaitable<Step> try_udp(CheckContext& ctx, boost::asio::ip::udp::endpoint to, Millis wait);

// A STUN Binding to `to` (the responder's --stun-ports, authenticated with
// the scan's token), retransmitted from 200 ms on, until an answer, an ICMP
// error for that destination, or `wait`: the UDP rung where the responder
// serves STUN rather than the echo on a media port (clients test their
// media ports with STUN too).
boost::asio::awaitable<Step> try_udp_stun(CheckContext& ctx, boost::asio::ip::udp::endpoint to, Millis wait);

// A TCP connection to `to`, then one framed echo (RFC 4571) over it.
boost::asio::awaitable<Step> try_tcp(CheckContext& ctx, boost::asio::ip::tcp::endpoint to, Millis wait);

// A TCP connection to `to`, then one STUN Binding over it (RFC 5389 framing):
// the TCP rung where the responder serves STUN (whose --stun-ports also
// listen on TCP) rather than the TCP echo on that port.
boost::asio::awaitable<Step> try_tcp_stun(CheckContext& ctx, boost::asio::ip::tcp::endpoint to, Millis wait);

// A TCP connection to `to`, a TLS handshake with no SNI (any certificate
// accepted), then one framed echo inside TLS (--tls-ports). Without
// `echo_inside` (the responder serves another TLS service there, such as
// --https-ports) the completed handshake is the answer.
boost::asio::awaitable<Step> try_tls(CheckContext& ctx, boost::asio::ip::tcp::endpoint to, Millis wait,
                                     bool echo_inside = true);

// The same through an explicit HTTP proxy: a CONNECT tunnel to host:port
// (checks/common/http_proxy.hpp; the proxy resolves `host`), then TLS with
// no SNI and one framed echo inside the tunnel.
boost::asio::awaitable<Step> try_tls_via_proxy(CheckContext& ctx, boost::asio::ip::tcp::endpoint proxy_at,
                                               http_proxy::Url proxy, std::string host, std::uint16_t port, Millis wait,
                                               bool echo_inside = true);

}  // namespace callready::checks::media_path
