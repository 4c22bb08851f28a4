#pragma once
// The round-trip times a scan has measured, per destination address, and the
// one rule for how long "no answer" is waited out before it means "blocked".
//
// Any check that got an answer from an address (a TCP connect, a STUN answer,
// an echo reply, the responder's control port) records the time it took; a
// check about to call silence from that address "blocked" waits
// max(4 x RTT, 250 ms), bounded by its own budget, instead of a schedule
// meant for an unknown path. No RTT known: the budget, as before. An RTT that
// becomes known while a wait is already running shortens that wait (the
// deadline is re-armed from the wait's start).
//
// The store belongs to the scan's io_context (an Asio service of it): every
// check of a scan shares it, a scan never sees another scan's paths, and it
// goes away with the io_context. path_rtt(ctx.executor) reaches it.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probe/clock.hpp"

namespace callready::net {

// Why a silence wait is as long as it is.
enum class WaitBasis {
  timeout,  // no RTT to that address was known: the check's own budget
  rtt,      // derived from an RTT measured on the path during this scan
};
std::string to_string(WaitBasis basis);

struct SilenceWait {
  Millis wait{0};  // how long silence is waited out, from the start of the exchange
  WaitBasis basis = WaitBasis::timeout;
  std::optional<double> rtt_ms;  // the RTT it was derived from (basis rtt)
};

inline constexpr int kSilenceRttMultiple = 4;
inline constexpr Millis kSilenceFloor{250};

// The rule alone: max(4 x rtt, 250 ms) when an RTT is known, never more than
// `budget`; the budget itself otherwise.
SilenceWait silence_wait_for(std::optional<Clock::duration> rtt, Millis budget);

class PathRtt {
 public:
  PathRtt() = default;
  PathRtt(const PathRtt&) = delete;
  PathRtt& operator=(const PathRtt&) = delete;

  // An answer from `to` came `rtt` after its request. Wakes the waits on `to`.
  void record(const boost::asio::ip::address& to, Clock::duration rtt);
  // The largest RTT recorded to `to` (the cautious one for a silence wait).
  std::optional<Clock::duration> rtt(const boost::asio::ip::address& to) const;
  int samples(const boost::asio::ip::address& to) const;
  SilenceWait silence_wait(const boost::asio::ip::address& to, Millis budget) const;

  // Returns once `fraction` of silence_wait(to, budget) has passed since
  // `start`; re-armed whenever an RTT to `to` is recorded meanwhile. The
  // result is the rule that ended it. Honours cancellation (throws
  // operation_aborted).
  boost::asio::awaitable<SilenceWait> wait_silence(boost::asio::ip::address to, Clock::time_point start, Millis budget,
                                                   double fraction = 1.0);

 private:
  struct Path {
    std::optional<Clock::duration> rtt;
    int samples = 0;
    std::vector<Timer*> waiting;
  };
  std::map<boost::asio::ip::address, Path> paths_;
};

// The store of the scan `ex` belongs to (one per io_context).
PathRtt& path_rtt(const boost::asio::any_io_executor& ex);

}  // namespace callready::net
