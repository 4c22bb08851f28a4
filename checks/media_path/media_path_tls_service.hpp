#pragma once
// `callready respond --tls-ports LIST`: the far end of the `media_path` TLS
// step. Every port accepts TLS (1.2 or 1.3) with no SNI needed: the service
// presents one self-signed certificate made at start-up (the client tests the
// path, not trust), whatever name the client asks for, or none. Inside the TLS
// session it answers RFC 4571-framed echo probes (checks/common/framed_echo.hpp)
// one reply per request, in order; the reply's observation is the client's
// address and port as seen here, `marks.tcp` set.
//
// Bounds (probe/respond/tcp_session_guard.hpp): kMaxConnections and
// kMaxConnectionsPerSource (past them a new connection is closed at once); a
// connection closes kIdle after the last byte it received (the handshake
// counts from the accept, so a silent client cannot hold one); a frame outside
// the echo bounds or a request that does not decode or authenticate closes the
// connection (silently). The responder's --max-pps limiter drops requests over
// the rate, as over UDP.
#include <chrono>
#include <cstddef>

#include "probe/respond/service.hpp"

namespace callready::checks {

struct TlsEchoLimits {
  static constexpr std::size_t kMaxConnections = 128;
  static constexpr std::size_t kMaxConnectionsPerSource = 16;
  static constexpr std::chrono::seconds kIdle{30};
};

respond::ServiceKind tls_echo_service();

}  // namespace callready::checks
