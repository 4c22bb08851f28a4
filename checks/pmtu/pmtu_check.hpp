#pragma once
// `pmtu`: the largest IP packet that crosses the path to the responder with DF
// set, exact to the byte; ICMP Fragmentation Needed seen or not; black holes.
#include <cstdint>
#include <optional>
#include <string>

#include "checks/common/resolve_step.hpp"
#include "checks/pmtu/pmtu_search.hpp"
#include "probe/check.hpp"

namespace callready::checks {

struct PmtuParams {
  std::string host;
  std::uint16_t port = 0;
  int max_mtu = 1500;
  int recommended_mtu = 1500;
  int minimum_mtu = 1300;
  // RFC 3261 18.1.1: a request over 1300 bytes must not go over UDP without a
  // known path MTU; a typical INVITE with SDP (SRTP crypto, several codecs) is this big.
  int sip_message_bytes = 1300;
  std::optional<long long> probe_timeout_ms;
  std::optional<std::uint16_t> control_port;  // default: the port of --responder

  static PmtuParams parse(ParamReader& r);
  std::string target() const;  // "host:port"
};

// The lines a path MTU is judged against, kept in the details so that a
// report re-rendered later draws what was decided then.
struct PmtuThresholds {
  int warning_below = 1500;            // recommended_mtu
  int critical_below = 1300;           // minimum_mtu
  int sip_message_bytes = 1300;        // 0: no SIP fragmentation finding
  int sip_fragmentation_below = 1328;  // sip_message_bytes as an IP packet (its family's headers)

  static PmtuThresholds of(const PmtuParams& p, bool v6);
};
void to_json(nlohmann::json& j, const PmtuThresholds& t);

struct PmtuResult {
  std::string host;
  std::uint16_t port = 0;
  std::optional<checks::TargetAddresses> unresolved;  // the lookup, when the host did not resolve
  std::optional<std::string> address;
  PmtuThresholds thresholds;
  int max_tested = 1500;
  std::optional<pmtu::SearchResult> search;  // absent when no search ran
};

// The details: host, port, path_mtu (null when not established), icmp_seen,
// black_hole, thresholds {warning_below, critical_below, sip_message_bytes,
// sip_fragmentation_below}; after a search also address, probes_sent, method,
// max_tested, upper_bound_reached, icmp_mtu, route_mtu, local_mtu, tested
// [{size, result, mtu}], rtt_ms, `undetermined` when no path MTU, and
// `rejected_by` (the ICMP error) when the path rejected the probes.
void to_json(nlohmann::json& j, const PmtuResult& r);

// Findings (code, severity, operation):
//   pmtu.no_address         warning   resolve
//   pmtu.no_responder       warning   receive  (no echo reply: the path MTU is not established)
//   pmtu.rejected           warning   receive  (an ICMP error from the path answered the first probes)
//   pmtu.black_hole         critical  receive  (larger packets vanish without ICMP)
//   pmtu.below_minimum      critical  none     (path_mtu < critical_below)
//   pmtu.below_recommended  warning   none     (path_mtu < warning_below)
//   pmtu.sip_fragmentation  warning   none     (path_mtu < sip_fragmentation_below)
Judgement judge_pmtu(const PmtuResult& r, const PmtuParams& p);

// A bar: path_mtu against the thresholds in the details; a note for a black hole.
view::View pmtu_view(const nlohmann::json& details);

CheckKind pmtu_check_kind();

}  // namespace callready::checks
