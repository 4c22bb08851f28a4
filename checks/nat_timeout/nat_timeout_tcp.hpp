#pragma once
// The TCP half of nat_timeout: one idle connection per rung, each carrying one
// framed echo request whose reply the responder defers by the rung's idle time
// (echo v2 `reply_delay_ms` over --tcp-ports), plus a canary connection the
// client keeps busy that asks for the same delays. When a rung's bytes do not
// arrive, the client then uses that connection once more and notes whether it
// sees a reset, a close, silence, or (the state survived) a reply.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/nat_timeout/nat_timeout_ladder.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks::nat_timeout {

struct TcpLadderOptions {
  boost::asio::ip::tcp::endpoint target;
  std::string token;
  std::vector<int> rungs;   // idle times, seconds
  Millis reply_wait{2000};  // how late a deferred reply may arrive; also the warm-up's and the after-probe's timeout
  Millis keepalive{5000};   // the canary's exchange interval (capped to a third of the shortest rung)
};

struct TcpLadderResult {
  Lifetime lifetime;
  std::optional<CheckError> error;  // local, or setup (the responder did not defer, or lost its timers)
};

boost::asio::awaitable<TcpLadderResult> measure_tcp_ladder(boost::asio::any_io_executor ex, TcpLadderOptions o);

}  // namespace callready::checks::nat_timeout
