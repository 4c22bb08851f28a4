// udp_range's verdict and details, from the measured result alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "checks/udp_range/udp_range_check.hpp"
#include "probe/net/port_ranges.hpp"

namespace callready::checks {

namespace {

// "8500-8599,9000"
std::string ranges(const std::vector<std::uint16_t>& ports) {
  return fmt::format("{}", fmt::join(net::merge_port_ranges(ports), ","));
}

}  // namespace

std::vector<std::uint16_t> UdpRangeResult::rejected_ports(std::optional<bool> by) const {
  std::vector<std::uint16_t> out;
  for (const auto& r : rejected)
    if (!by || r.by_target == *by) out.push_back(r.port);
  return out;
}

std::vector<std::uint16_t> UdpRangeResult::untested() const {
  auto out = cut_off;
  out.insert(out.end(), not_served.begin(), not_served.end());
  return out;
}

void to_json(nlohmann::json& j, const UdpRangeResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  j["ports_tested"] = r.swept.size();
  j["open"] = net::merge_port_ranges(r.open);
  j["blocked"] = net::merge_port_ranges(r.blocked);
  j["rejected"] = net::merge_port_ranges(r.rejected_ports());
  j["untested"] = net::merge_port_ranges(r.untested());
  if (!r.foreign.empty()) j["other_answer"] = net::merge_port_ranges(r.foreign);
  if (!r.address) return;
  j["address"] = *r.address;
  if (!r.control.empty()) j["control"] = r.control;
  if (!r.not_served.empty()) j["not_served"] = net::merge_port_ranges(r.not_served);
  j["attempts"] = r.attempts;
  j["rounds"] = r.rounds;
  j["max_pps"] = r.max_pps;
  j["probes_sent"] = r.probes_sent;
  j["loss_estimate"] = r.loss_estimate;
  if (r.rtt_ms) j["rtt_ms"] = *r.rtt_ms;
  if (r.observed_source) j["observed_source"] = *r.observed_source;
  if (r.source_ports_requested) {
    j["source_ports"] = net::merge_port_ranges(r.source_ports_used);
    j["source_ports_unavailable"] = net::merge_port_ranges(r.source_ports_unavailable);
  }
  if (!r.rejected.empty()) {
    auto& by = j["rejected_by"] = nlohmann::json::array();
    for (const auto& x : r.rejected) by.push_back({{"port", x.port}, {"icmp", x.icmp}, {"by_target", x.by_target}});
  }
}

Judgement judge_udp_range(const UdpRangeResult& r, const UdpRangeParams& p) {
  Judgement j;
  if (r.unresolved) {
    return checks::unresolved_judgement("udp_range", *r.unresolved, "sweep UDP ports on " + p.host);
  }
  const std::string address = r.address.value_or(p.host);
  const std::string from =
      r.source_ports_requested ? " from local ports " + ranges(r.source_ports_used) : std::string();
  auto allow = [&](const std::string& list) {
    return fmt::format("Allow outbound UDP{} to {} ports {}, and the replies back", from, address, list);
  };

  if (!r.not_served.empty())
    j.findings.push_back({Severity::warning, "udp_range.not_served",
                          fmt::format("The responder at {} does not serve UDP {}, so those ports were not tested",
                                      p.host, ranges(r.not_served)),
                          fmt::format("Start the responder with --udp-ports covering {}", ranges(p.ports)), "",
                          Operation::control});
  if (!r.blocked.empty())
    j.findings.push_back(
        {Severity::critical, "udp_range.blocked",
         fmt::format("No answer from {} on UDP {} after {} attempts: something on the path drops these ports silently",
                     p.host, ranges(r.blocked), r.rounds),
         allow(ranges(r.blocked)), "", Operation::receive});
  if (auto path = r.rejected_ports(false); !path.empty()) {
    auto first = std::find_if(r.rejected.begin(), r.rejected.end(), [](const auto& x) { return !x.by_target; });
    j.findings.push_back({Severity::critical, "udp_range.rejected",
                          fmt::format("UDP {} to {} was refused ({}): a firewall on the path rejects these ports",
                                      ranges(path), p.host, first->icmp),
                          allow(ranges(path)), "", Operation::send});
  }
  if (auto closed = r.rejected_ports(true); !closed.empty())
    j.findings.push_back(
        {Severity::warning, "udp_range.closed_at_responder",
         fmt::format("{} itself answered ICMP port unreachable on UDP {}: the path is open but nothing listens there",
                     p.host, ranges(closed)),
         fmt::format("Start the responder with --udp-ports covering {}", ranges(closed)), "", Operation::send});
  if (!r.foreign.empty()) {
    Finding f{Severity::warning,
              "udp_range.other_answer",
              fmt::format("UDP {} on {} answered, but not with the responder's echo: the path reaches these ports, "
                          "and something else answers there (another program on that host, or a device on the "
                          "path answering for it)",
                          ranges(r.foreign), p.host),
              fmt::format("Find what answers on UDP {} at {} (e.g. ss -ulpn on that host) and stop it, or give "
                          "these ports to the responder",
                          ranges(r.foreign), address),
              "",
              Operation::receive};
    f.inconclusive = true;
    j.findings.push_back(std::move(f));
  }
  if (r.cut_short)
    j.findings.push_back({Severity::warning, "udp_range.incomplete",
                          fmt::format("The time limit ended the sweep early; UDP {} were not probed every time",
                                      r.cut_off.empty() ? std::string("some ports") : ranges(r.cut_off)),
                          "Raise the check's timeout_ms or max_pps, or test fewer ports", "", Operation::send});

  j.summary = fmt::format("{} of {} UDP ports open on {}", r.open.size(), r.swept.size(), p.host);
  if (!r.blocked.empty()) j.summary += fmt::format(", blocked {}", ranges(r.blocked));
  if (!r.rejected.empty()) j.summary += fmt::format(", rejected {}", ranges(r.rejected_ports()));
  if (!r.not_served.empty()) j.summary += fmt::format(", not served {}", ranges(r.not_served));
  if (!r.foreign.empty()) j.summary += fmt::format(", answered by something else {}", ranges(r.foreign));
  if (r.rtt_ms) j.summary += fmt::format(" (median RTT {:.2f} ms)", *r.rtt_ms);
  return j;
}

}  // namespace callready::checks
