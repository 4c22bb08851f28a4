#pragma once
// Whether the TURN server answers and takes the credentials: a TURN Allocate
// (RFC 8656) over UDP, first without credentials (the 401 that carries realm
// and nonce), then with them (long-term credential). libnice only says "no
// relay candidate"; this tells a dead server from wrong credentials. A
// granted allocation is released at once (Refresh, LIFETIME 0).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <string>

#include "probe/clock.hpp"

namespace callready::checks::ice {

enum class TurnOutcome { not_tested, unreachable, unauthorized, refused, allocated };
const char* to_string(TurnOutcome o);

struct TurnProbe {
  TurnOutcome outcome = TurnOutcome::not_tested;
  int error_code = 0;  // the server's error answer (401, 403, 486, ...)
  std::string reason;  // its reason phrase, or what went wrong locally
  double rtt_ms = 0;   // of the first answer
};

// Sends at 0, 250, 750, 1750 ms ... until `cap` has passed for each transaction.
boost::asio::awaitable<TurnProbe> probe_turn(boost::asio::ip::udp::endpoint server, std::string username,
                                             std::string password, Millis cap);

}  // namespace callready::checks::ice
