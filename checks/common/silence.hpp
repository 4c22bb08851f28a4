#pragma once
// What the checks share about waiting out silence (net::PathRtt's rule):
// how it is written into a check's details, and a wait that ends only when
// an RTT recorded meanwhile makes part of the rule due.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "probe/clock.hpp"
#include "probe/net/path_rtt.hpp"

namespace callready::checks {

// Why silence was given up when it was, with the tcp kind's keys under
// `prefix`: wait_ms, wait_basis (rtt: max(4 x RTT, 250 ms) from the RTT this
// scan measured to the address, in path_rtt_ms; timeout: the check's own
// budget, no RTT known). Nothing when `w` is empty.
void write_silence(nlohmann::json& j, const std::optional<net::SilenceWait>& w, const std::string& prefix = "");

// Returns once an RTT to `to`, recorded after `start`, makes `fraction` of the
// rule (from `start`, bounded by `budget`) due; never while none is known, nor
// at all when `watch` is false (the caller's other branches end it). For a
// wait that began with no RTT known and must change course when one is
// learnt. Honours cancellation.
boost::asio::awaitable<void> rtt_learned(net::PathRtt& paths, boost::asio::ip::address to, Clock::time_point start,
                                         Millis budget, double fraction, bool watch = true);

}  // namespace callready::checks
