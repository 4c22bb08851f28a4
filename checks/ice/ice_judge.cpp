// The `ice` kind's findings, from an IceResult alone.
#include <fmt/format.h>

#include "checks/ice/ice_check.hpp"

namespace callready::checks {

namespace {

std::string counts_text(const std::map<std::string, int>& counts) {
  std::string text;
  for (const char* type : {"host", "srflx", "prflx", "relay"}) {
    auto it = counts.find(type);
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", it == counts.end() ? 0 : it->second, type);
  }
  return text;
}

std::string pair_text(const IceResult& r) {
  return fmt::format("{} to {} over {}", r.selected_local->type, r.selected_remote->type,
                     r.selected_local->transport == "tcp" ? "TCP" : "UDP");
}

// A relay is what makes the call work when the checks found nothing direct,
// and the only path under relay_only: then a TURN problem is critical.
Severity turn_severity(const IceResult& r) {
  return r.relay_only || !r.connected() ? Severity::critical : Severity::warning;
}

void turn_findings(const IceResult& r, std::vector<Finding>& out) {
  if (r.turn.empty()) return;
  if (r.turn_unresolved) {
    out.push_back(Finding{.severity = turn_severity(r),
                          .code = "ice.turn_no_address",
                          .message = fmt::format("The TURN server {} did not resolve: no relay candidates", r.turn),
                          .remediation = "Fix the TURN server's name in the profile or in DNS",
                          .operation = Operation::resolve});
    return;
  }
  const auto& probe = r.turn_probe;
  switch (probe.outcome) {
    case ice::TurnOutcome::unreachable:
      out.push_back(Finding{
          .severity = turn_severity(r),
          .code = "ice.turn_unreachable",
          .message = fmt::format("The TURN server {} did not answer an Allocate over UDP within {} ms{}", r.turn,
                                 r.gather_cap_ms, probe.reason.empty() ? "" : " (" + probe.reason + ")"),
          .remediation =
              fmt::format("Allow UDP to {} through the firewall, or check that the TURN server runs", r.turn),
          .operation = Operation::receive});
      break;
    case ice::TurnOutcome::unauthorized:
      out.push_back(
          Finding{.severity = turn_severity(r),
                  .code = "ice.turn_unauthorized",
                  .message = fmt::format("The TURN server {} refused the credentials of user \"{}\" (401 {})", r.turn,
                                         r.turn_username, probe.reason),
                  .remediation = "Set the TURN username and password the server expects (turn_username, turn_password)",
                  .operation = Operation::handshake});
      break;
    case ice::TurnOutcome::refused:
      out.push_back(Finding{.severity = turn_severity(r),
                            .code = "ice.turn_refused",
                            .message = fmt::format("The TURN server {} refused the allocation ({} {})", r.turn,
                                                   probe.error_code, probe.reason),
                            .remediation = "Check the TURN server's quota and allowed peers for this site",
                            .operation = Operation::handshake});
      break;
    case ice::TurnOutcome::not_tested:
    case ice::TurnOutcome::allocated:
      break;
  }
}

void gathering_findings(const IceResult& r, std::vector<Finding>& out) {
  if (r.stun_unresolved)
    out.push_back(
        Finding{.severity = Severity::warning,
                .code = "ice.stun_no_address",
                .message = fmt::format("The STUN server {} did not resolve: no server-reflexive candidates", r.stun),
                .remediation = "Fix the STUN server's name in the profile or in DNS",
                .operation = Operation::resolve});
  if (!r.gathering_complete)
    out.push_back(
        Finding{.severity = Severity::info,
                .code = "ice.gathering_capped",
                .message = fmt::format("Gathering had not finished after {} ms (a STUN or TURN server did not "
                                       "answer); the check went on with the candidates found",
                                       r.gather_cap_ms),
                .remediation = "Make the STUN and TURN servers reachable from this site"});
  if (r.relay_only && r.candidates.count("relay") == 0)
    out.push_back(Finding{.severity = Severity::critical,
                          .code = "ice.no_relay_candidate",
                          .message = fmt::format("No relay candidate was gathered from {} ({} candidates)", r.turn,
                                                 counts_text(r.candidates)),
                          .remediation = "Make the TURN server reachable and give it valid credentials",
                          .operation = Operation::receive});
}

}  // namespace

Judgement judge_ice(const IceResult& r, const IceParams&) {
  if (r.unresolved)
    return unresolved_judgement("ice", *r.unresolved, "reach the responder " + r.responder + " for an ICE exchange");
  Judgement j;
  gathering_findings(r, j.findings);
  turn_findings(r, j.findings);
  if (!r.connected()) {
    j.findings.push_back(Finding{
        .severity = Severity::critical,
        .code = "ice.no_pair",
        .message = fmt::format("ICE found no working candidate pair {} (ours: {}; the responder's: {})",
                               r.checks_failed ? "(the connectivity checks failed)" : "within the connect timeout",
                               counts_text(r.candidates), counts_text(r.remote_candidates)),
        .remediation =
            "Allow UDP from this site to the media servers' ports, and make a TURN server reachable as a fallback",
        .operation = Operation::connect});
    j.summary = j.findings.back().message;
    return j;
  }
  if (r.relay_required() && !r.relay_only)
    j.findings.push_back(
        Finding{.severity = Severity::warning,
                .code = "ice.relay_required",
                .message = fmt::format("Media would need a TURN relay: the nominated pair is {}", pair_text(r)),
                .remediation = "Let the NAT keep one mapping per inside address and port (endpoint-independent "
                               "mapping), or allow direct UDP to the media ports"});
  if (r.selected_local->transport == "tcp")
    j.findings.push_back(
        Finding{.severity = Severity::warning,
                .code = "ice.tcp_pair",
                .message = fmt::format("Media would run over TCP: the nominated pair is {}", pair_text(r)),
                .remediation = "Allow UDP to the media ports: media over TCP suffers from retransmission delay"});
  std::string rtt = r.rtt_ms ? fmt::format(", round trip {:.1f} ms", *r.rtt_ms) : ", no probe echoed";
  j.summary = fmt::format("ICE connected in {:.0f} ms: {}{} (gathered {} in {:.0f} ms)", r.connected_ms.value_or(0),
                          pair_text(r), rtt, counts_text(r.candidates), r.gathering_ms.value_or(0));
  return j;
}

}  // namespace callready::checks
