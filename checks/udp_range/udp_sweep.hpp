#pragma once
// The paced, retried UDP sweep behind `udp_range`, apart from params and
// findings so that other checks and benchmarks can run it directly.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks {

struct SweepOptions {
  boost::asio::ip::address target;
  std::vector<std::uint16_t> ports;         // sorted, unique
  std::vector<std::uint16_t> source_ports;  // empty: one ephemeral port
  std::string token;
  int max_pps = 200;                          // all sockets together
  int attempts = 3;                           // at least this many rounds for a silent port
  int max_attempts = 8;                       // more rounds only while the path shows loss
  std::chrono::milliseconds reply_wait{500};  // after round 1; x2 after round 2, x4 after later ones
  Clock::time_point deadline;                 // nothing is sent after it
};

struct PortResult {
  // foreign: only datagrams that are not echo replies came back from the
  // port: the path is open, but something other than the responder answers.
  enum class State { untested, open, blocked, rejected, foreign } state = State::untested;
  int attempts = 0;                 // probes sent
  double rtt_ms = 0;                // open: first reply
  std::string icmp;                 // rejected: "ICMP port unreachable from 203.0.113.1"
  bool rejected_by_target = false;  // the ICMP came from the target itself (nothing listens)
};

struct SweepResult {
  std::optional<CheckError> error;  // could not run at all: no socket, or sending failed here (local)
  std::vector<PortResult> ports;    // parallel to SweepOptions::ports
  std::vector<std::uint16_t> source_ports_used, source_ports_unavailable;
  int rounds = 0;
  std::uint64_t probes_sent = 0;
  std::optional<boost::asio::ip::udp::endpoint> observed_source;  // as the responder saw us (NAT)
  double loss_estimate = 0;  // share of first probes to open ports that went unanswered
  bool cut_short = false;    // the deadline ended the sweep early
};

boost::asio::awaitable<SweepResult> udp_sweep(boost::asio::any_io_executor ex, SweepOptions options);

}  // namespace callready::checks
