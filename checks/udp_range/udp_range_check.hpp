#pragma once
// `udp_range`: authenticated echo probes to every port of a range on
// `callready respond`; each port open (echo), blocked (silence after every
// attempt) or rejected (ICMP unreachable). Ports the responder does not serve
// are not probed: they are reported untested, never blocked.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"

namespace callready::checks {

struct UdpRangeParams {
  std::string host;
  std::vector<std::uint16_t> ports;         // sorted, unique
  std::vector<std::uint16_t> source_ports;  // empty: one ephemeral port
  int max_pps = 200;
  int attempts = 3;
  long long reply_wait_ms = 500;
  std::optional<std::string> token;           // default: the scan's --token
  std::optional<std::uint16_t> control_port;  // default: the port of --responder

  static UdpRangeParams parse(ParamReader& r);
  std::string target() const;  // "host udp 5004,9000-9001"
};

// A port an ICMP unreachable answered for.
struct RejectedPort {
  std::uint16_t port = 0;
  std::string icmp;        // "ICMP port unreachable from 203.0.113.1"
  bool by_target = false;  // the target itself sent it: the path is open, nothing listens
};

struct UdpRangeResult {
  std::string host;
  std::optional<checks::TargetAddresses> unresolved;  // the lookup, when the host did not resolve
  std::optional<std::string> address;
  std::string control;                                // "ok", or what the control exchange said
  std::vector<std::uint16_t> not_served;              // requested, but the responder does not serve them: not probed
  std::vector<std::uint16_t> swept;                   // the ports probed (the served ones)
  std::vector<std::uint16_t> open, blocked, cut_off;  // cut_off: the time limit ended the sweep first
  std::vector<RejectedPort> rejected;
  std::vector<std::uint16_t> foreign;  // answered with bytes that are no echo reply: open, something else answers
  int attempts = 0, rounds = 0, max_pps = 0;
  std::uint64_t probes_sent = 0;
  double loss_estimate = 0;
  std::optional<double> rtt_ms;                // median RTT of the open ports
  std::optional<std::string> observed_source;  // HOST:PORT the responder saw (after NAT)
  bool source_ports_requested = false;
  std::vector<std::uint16_t> source_ports_used, source_ports_unavailable;
  bool cut_short = false;

  std::vector<std::uint16_t> rejected_ports(std::optional<bool> by_target = std::nullopt) const;
  std::vector<std::uint16_t> untested() const;  // cut off, and not served
};

// The details: host, address, control, ports_tested, open, blocked,
// rejected, untested, not_served, other_answer (merged "A-B" lists), attempts, rounds,
// max_pps, probes_sent, loss_estimate, rtt_ms, observed_source, source_ports,
// source_ports_unavailable, rejected_by [{port, icmp, by_target}].
void to_json(nlohmann::json& j, const UdpRangeResult& r);

// Findings (code, severity, operation):
//   udp_range.no_address           critical  resolve
//   udp_range.not_served           warning   control  (requested ports the responder does not serve)
//   udp_range.blocked              critical  receive  (silence after every attempt)
//   udp_range.rejected             critical  send     (ICMP unreachable from the path)
//   udp_range.closed_at_responder  warning   send     (ICMP port unreachable from the target itself)
//   udp_range.incomplete           warning   send     (the time limit ended the sweep early)
//   udp_range.other_answer         warning   receive  (the port answered, but not as the responder: inconclusive)
Judgement judge_udp_range(const UdpRangeResult& r, const UdpRangeParams& p);

// A port strip from open/blocked/rejected/untested.
view::View udp_range_view(const nlohmann::json& details);

CheckKind udp_range_check_kind();

}  // namespace callready::checks
