// dscp's verdicts and details, from the measured result alone.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "checks/dscp/dscp_check.hpp"

namespace callready::checks {

const char* to_string(DscpVerdict v) {
  switch (v) {
    case DscpVerdict::preserved:
      return "preserved";
    case DscpVerdict::remarked:
      return "remarked";
    case DscpVerdict::bleached:
      return "bleached";
    case DscpVerdict::unknown:
      return "unknown";
  }
  return "unknown";
}

int DscpDirection::total() const {
  int n = 0;
  for (const auto& [value, packets] : received) n += packets;
  return n;
}

DscpVerdict dscp_verdict(const DscpDirection& d, int sent) {
  int total = d.total();
  if (!d.unreadable.empty() || total == 0) return DscpVerdict::unknown;
  auto kept = d.received.find(sent);
  if (kept != d.received.end() && kept->second == total) return DscpVerdict::preserved;
  auto zero = d.received.find(0);
  if (sent != 0 && zero != d.received.end() && zero->second == total) return DscpVerdict::bleached;
  return DscpVerdict::remarked;
}

double remarked_pct(const DscpDirection& d, int sent) {
  int total = d.total();
  if (total == 0) return 0;
  auto kept = d.received.find(sent);
  int other = total - (kept == d.received.end() ? 0 : kept->second);
  return std::round(1000.0 * other / total) / 10;
}

namespace {

nlohmann::json direction_json(const DscpDirection& d, int sent) {
  nlohmann::json received = nlohmann::json::object();
  for (const auto& [value, packets] : d.received) received[std::to_string(value)] = packets;
  auto verdict = dscp_verdict(d, sent);
  nlohmann::json j = {{"verdict", to_string(verdict)},
                      {"received", std::move(received)},
                      {"ecn_changed", d.ecn_changed > 0},
                      {"remarked_pct", remarked_pct(d, sent)}};
  if (!d.unreadable.empty()) j["unreadable"] = d.unreadable;
  return j;
}

// "0 (12 of 50 packets), 26 (3)": the values other than `sent`, most frequent first.
std::string other_values(const DscpDirection& d, int sent) {
  std::vector<std::pair<int, int>> others;
  for (const auto& [value, packets] : d.received)
    if (value != sent) others.emplace_back(packets, value);
  std::sort(others.rbegin(), others.rend());
  std::string text;
  for (const auto& [packets, value] : others)
    text += fmt::format("{}{} ({} of {} packets)", text.empty() ? "" : ", ", value, packets, d.total());
  return text;
}

const char* direction_words(bool upstream) {
  return upstream ? "on the way to the responder (upstream)" : "on the way back (downstream)";
}

std::string class_label(const DscpClassResult& c) {
  return fmt::format("{} (DSCP {}) over {} {}", c.name, c.dscp, c.transport == "tcp" ? "TCP" : "UDP",
                     c.family == "ipv6" ? "IPv6" : "IPv4");
}

const char* kRemarkFix =
    "Trust the DSCP marking on the access switch port and keep it across the uplink router and firewall (no "
    "policy that re-marks or clears DSCP for this traffic); on a provider link, ask for the class to be kept";

void judge_direction(const DscpClassResult& c, const DscpDirection& d, bool upstream, Severity remark_severity,
                     Judgement& j) {
  auto verdict = dscp_verdict(d, c.dscp);
  Severity severity = c.dscp == 0 ? Severity::info : remark_severity;
  if (verdict == DscpVerdict::unknown && !d.unreadable.empty() && c.replies > 0)
    j.findings.push_back({Severity::info, "dscp.unreadable",
                          fmt::format("{}: the marking {} could not be read: {}", class_label(c),
                                      direction_words(upstream), d.unreadable),
                          "Run the probe as root (or with CAP_NET_RAW) to read the TOS of IPv4 TCP segments", "",
                          Operation::receive, true});
  if (verdict == DscpVerdict::bleached)
    j.findings.push_back(
        {severity, "dscp.bleached",
         fmt::format("{}: every packet {} arrived with DSCP 0 instead of {}: the marking is cleared, so this traffic "
                     "gets no priority on a congested link",
                     class_label(c), direction_words(upstream), c.dscp),
         kRemarkFix, ""});
  if (verdict == DscpVerdict::remarked) {
    double pct = remarked_pct(d, c.dscp);
    std::string how = pct < 100 ? fmt::format("{:g}% of the packets", pct) : std::string("every packet");
    j.findings.push_back({severity, "dscp.remarked",
                          fmt::format("{}: {} {} arrived re-marked, to {}, instead of DSCP {}", class_label(c), how,
                                      direction_words(upstream), other_values(d, c.dscp), c.dscp),
                          kRemarkFix, ""});
  }
  if (d.ecn_changed > 0)
    j.findings.push_back({Severity::info, "dscp.ecn_changed",
                          fmt::format("{}: the ECN bits of {} of {} packets {} changed (not counted as re-marking)",
                                      class_label(c), d.ecn_changed, d.total(), direction_words(upstream)),
                          "", ""});
}

std::string short_verdict(const DscpClassResult& c) {
  auto up = dscp_verdict(c.upstream, c.dscp), down = dscp_verdict(c.downstream, c.dscp);
  if (up == down) return up == DscpVerdict::unknown ? "unknown" : fmt::format("{} both ways", to_string(up));
  return fmt::format("{} up, {} down", to_string(up), to_string(down));
}

}  // namespace

void to_json(nlohmann::json& j, const DscpResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  auto classes = nlohmann::json::array();
  for (const auto& c : r.classes) {
    nlohmann::json e = {{"name", c.name},
                        {"dscp", c.dscp},
                        {"transport", c.transport},
                        {"family", c.family},
                        {"address", c.address},
                        {"port", c.port},
                        {"source_port", c.source_port ? nlohmann::json(*c.source_port) : nlohmann::json(nullptr)},
                        {"probes_sent", c.probes_sent},
                        {"replies", c.replies},
                        {"upstream", direction_json(c.upstream, c.dscp)},
                        {"downstream", direction_json(c.downstream, c.dscp)}};
    if (!c.failure.empty()) e["failure"] = c.failure;
    classes.push_back(std::move(e));
  }
  j["classes"] = std::move(classes);
  auto skipped = r.skipped;
  skipped.insert(skipped.end(), r.not_asked.begin(), r.not_asked.end());
  if (!skipped.empty()) j["skipped"] = std::move(skipped);
}

Judgement judge_dscp(const DscpResult& r, const DscpParams& p) {
  Judgement j;
  if (r.unresolved) {
    return checks::unresolved_judgement("dscp", *r.unresolved, "test DSCP marking toward the responder",
                                        Severity::warning);
  }
  std::vector<std::string> parts;
  for (const auto& c : r.classes) {
    if (c.replies == 0) {
      j.findings.push_back({Severity::warning, "dscp.no_reply",
                            fmt::format("{}: no echo reply from {} port {} ({}): the marking could not be tested",
                                        class_label(c), p.host, c.port, c.failure),
                            fmt::format("Allow {} {} to {} and its replies through the firewall",
                                        c.transport == "tcp" ? "TCP" : "UDP", c.port, p.host),
                            "", c.failure_operation == Operation::none ? Operation::receive : c.failure_operation,
                            true});
      parts.push_back(fmt::format("{} {} {}: no reply", c.name, c.transport, c.family));
      continue;
    }
    judge_direction(c, c.upstream, true, p.remark_severity, j);
    judge_direction(c, c.downstream, false, p.remark_severity, j);
    parts.push_back(fmt::format("{} {} {}: {}", c.name, c.transport, c.family, short_verdict(c)));
  }
  for (const auto& family : r.not_asked) parts.push_back("not tested: " + family);
  std::string summary;
  for (const auto& part : parts) summary += (summary.empty() ? "" : "; ") + part;
  j.summary = summary.empty() ? "no class tested" : summary;
  return j;
}

}  // namespace callready::checks
