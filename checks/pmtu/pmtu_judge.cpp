// pmtu's verdict and details, from the measured result alone. The thresholds
// judged against are the result's (copied from the params when measuring),
// so the details show exactly the lines the verdict used.
#include <fmt/format.h>

#include <cmath>

#include "checks/pmtu/pmtu_check.hpp"

namespace callready::checks {

namespace {

nlohmann::json tested_json(const pmtu::SearchResult& s) {
  auto tested = nlohmann::json::array();
  for (const auto& t : s.tested) {
    nlohmann::json j = {{"size", t.size}, {"result", t.result}};
    if (t.mtu) j["mtu"] = t.mtu;
    tested.push_back(std::move(j));
  }
  return tested;
}

// The ICMP message that tells a sender with DF set to shrink its packets: its
// name differs per family (RFC 792/1191 for IPv4, RFC 4443/8201 for IPv6).
std::string too_big_icmp_name(const std::optional<std::string>& address) {
  bool v6 = address && address->find(':') != std::string::npos;
  return v6 ? "ICMPv6 Packet Too Big" : "ICMP Fragmentation Needed";
}

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

void to_json(nlohmann::json& j, const PmtuThresholds& t) {
  j = {{"warning_below", t.warning_below},
       {"critical_below", t.critical_below},
       {"sip_message_bytes", t.sip_message_bytes},
       {"sip_fragmentation_below", t.sip_fragmentation_below}};
}

void to_json(nlohmann::json& j, const PmtuResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  j["port"] = r.port;
  j["path_mtu"] = nullptr;
  j["icmp_seen"] = false;
  j["black_hole"] = false;
  j["thresholds"] = r.thresholds;
  if (!r.search) return;
  const auto& s = *r.search;
  if (r.address) j["address"] = *r.address;
  j["icmp_seen"] = s.icmp_seen;
  j["black_hole"] = s.black_hole;
  j["probes_sent"] = s.probes_sent;
  j["method"] = s.method;
  j["max_tested"] = r.max_tested;
  j["upper_bound_reached"] = s.upper_bound_reached;
  j["icmp_mtu"] = or_null(s.icmp_mtu);
  j["route_mtu"] = or_null(s.route_mtu);
  if (s.local_mtu) j["local_mtu"] = *s.local_mtu;
  j["tested"] = tested_json(s);
  if (s.rejected_by) j["rejected_by"] = *s.rejected_by;
  if (s.path_mtu) {
    j["path_mtu"] = *s.path_mtu;
    j["rtt_ms"] = std::round(s.rtt_ms * 100) / 100;
  } else {
    j["undetermined"] = s.icmp_mtu ? "no echo reply: only the ICMP-reported next-hop MTU is known"
                                   : "no echo reply and no ICMP: the path MTU could not be established";
  }
}

Judgement judge_pmtu(const PmtuResult& r, const PmtuParams& p) {
  Judgement j;
  if (r.unresolved) {
    return checks::unresolved_judgement("pmtu", *r.unresolved, "measure the path MTU", Severity::warning);
  }
  if (!r.search) {
    j.summary = fmt::format("path MTU to {} not measured", p.target());
    return j;
  }
  const auto& s = *r.search;
  const auto& t = r.thresholds;
  if (s.rejected_by) {
    j.summary = fmt::format("path MTU to {} not measured: UDP {} rejected on the path ({})", p.target(), p.port,
                            *s.rejected_by);
    j.findings.push_back({Severity::warning, "pmtu.rejected",
                          fmt::format("UDP {} to {} was refused by a device on the path ({}): a firewall or router "
                                      "rejects it, so the path MTU could not be measured",
                                      p.port, p.host, *s.rejected_by),
                          fmt::format("Allow UDP {} to {} (and its replies) on the firewall", p.port, p.host), "",
                          Operation::receive, true});  // the MTU is unknown: the rule's fix does not apply
    return j;
  }
  if (!s.path_mtu) {
    j.summary = s.icmp_mtu ? fmt::format("path MTU not confirmed; ICMP reports a next-hop MTU of {}", *s.icmp_mtu)
                           : fmt::format("path MTU to {} not established (no echo reply)", p.target());
    j.findings.push_back(
        {Severity::warning, "pmtu.no_responder",
         fmt::format("No echo reply from {}: the path MTU could not be confirmed{}", p.target(),
                     s.icmp_mtu ? fmt::format(" (a router reported an MTU of {} bytes)", *s.icmp_mtu) : ""),
         fmt::format("The responder serves UDP {0} but its replies did not come back: allow UDP {0} to {1}, and the "
                     "replies back",
                     p.port, p.host),
         "", Operation::receive, true});
    return j;
  }
  int mtu = *s.path_mtu;
  std::string too_big = too_big_icmp_name(r.address);
  if (s.black_hole)
    j.findings.push_back(
        {Severity::critical, "pmtu.black_hole",
         fmt::format("IP packets larger than {} bytes with DF set vanish on the way to {} and no {} comes back (a PMTU "
                     "black hole): large signalling and media packets will be lost silently",
                     mtu, p.host, too_big),
         fmt::format("Allow ICMP type 3 code 4 (Fragmentation Needed) and ICMPv6 type 2 (Packet Too Big) through every "
                     "firewall and router toward {}: senders that set DF rely on it when packets must shrink",
                     p.host),
         "", Operation::receive});
  if (mtu < t.critical_below)
    j.findings.push_back(
        {Severity::critical, "pmtu.below_minimum",
         fmt::format("The path MTU to {} is {} bytes, below the minimum of {} bytes", p.host, mtu, t.critical_below),
         fmt::format("Raise the MTU of the links and tunnels on this path to {} bytes, at least {}", t.warning_below,
                     t.critical_below),
         ""});
  else if (mtu < t.warning_below)
    j.findings.push_back(
        {Severity::warning, "pmtu.below_recommended",
         fmt::format("The path MTU to {} is {} bytes, below the recommended {} bytes", p.host, mtu, t.warning_below),
         fmt::format("Keep an MTU of {} bytes on every link of the path (VPN, PPPoE and tunnels "
                     "lower it)",
                     t.warning_below),
         ""});
  if (t.sip_message_bytes > 0 && mtu < t.sip_fragmentation_below)
    j.findings.push_back(
        {Severity::warning, "pmtu.sip_fragmentation",
         fmt::format("A typical SIP INVITE with SDP ({} bytes, {} as an IP packet) is larger than the path MTU of {}: "
                     "over UDP it would be fragmented, and fragments are often dropped by firewalls and NATs",
                     t.sip_message_bytes, t.sip_fragmentation_below, mtu),
         fmt::format("Use SIP over TCP or TLS, or raise the path MTU to {} bytes", t.warning_below), ""});
  std::string how = s.method == "responder" ? "" : " (reduced mode: arrivals shown by ICMP port unreachable)";
  j.summary = fmt::format("path MTU {} bytes{}{}{}{}", mtu, s.upper_bound_reached ? " (the largest size tried)" : "",
                          s.icmp_seen ? fmt::format(", {} seen", too_big) : "",
                          s.black_hole ? ", larger packets vanish without ICMP (black hole)" : "", how);
  return j;
}

}  // namespace callready::checks
