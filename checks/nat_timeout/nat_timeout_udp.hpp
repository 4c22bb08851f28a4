#pragma once
// The UDP half of nat_timeout: one binding per rung and warm-up variant, all
// at once, each tested exactly once by the responder's deferred reply
// (echo v2 `reply_delay_ms`), plus a canary binding kept alive by the client
// that asks for the same delays: its deferred replies prove the responder was
// alive and kept its timers, so a missing rung reply means the binding expired.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/nat_timeout/nat_timeout_ladder.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks::nat_timeout {

struct UdpLadderOptions {
  boost::asio::ip::udp::endpoint target;
  std::string token;
  std::vector<int> rungs;  // idle times, seconds
  bool call_like = true;   // warm the call-like bindings
  bool single = true;      // warm the single-exchange bindings
  Millis warmup{2500};     // call-like: exchanges over this long (conntrack's stream state needs > 2 s)
  Millis exchange_every{500};
  Millis reply_wait{2000};  // a deferred reply may arrive this late; also the warm-up's reply timeout
  Millis keepalive{5000};   // the canary's exchange interval (capped to a third of the shortest rung)
};

struct UdpLadderResult {
  Lifetime call_like, single;
  std::optional<std::string> mapped;  // the canary's address as the responder saw it
  std::optional<CheckError> error;    // local (bind), or setup (the responder did not defer, or lost its timers)
};

boost::asio::awaitable<UdpLadderResult> measure_udp_ladder(boost::asio::any_io_executor ex, UdpLadderOptions o);

}  // namespace callready::checks::nat_timeout
