// The `stun` verdict: pure, from the StunResult alone. Findings say what was
// observed; the requirement they break and its citation come from the rule.
#include <fmt/format.h>

#include <cmath>

#include "checks/common/finding.hpp"
#include "checks/common/silence.hpp"
#include "checks/stun/stun_result.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::stun {

StunParams StunParams::parse(ParamReader& r) {
  StunParams p;
  p.host = r.string("host");
  p.port = r.port_or("port", 3478);
  p.transport = r.choice("transport", {"udp", "tcp"}, "udp");
  p.nat_discovery = r.boolean_or("nat_discovery", true);
  if (const auto* v = r.raw("responder")) {
    if (v->is_boolean())
      p.responder = v->get<bool>();
    else
      r.error("responder", "expected true or false");
  }
  return p;
}

std::string StunParams::target() const { return net::format_host_port(host, port) + "/" + transport; }

std::optional<bool> StunResult::nat() const {
  auto m = mapped();
  if (!m || !local) return std::nullopt;
  return *m != *local;
}

std::optional<bool> StunResult::alg_suspected() const {
  if (!xor_mapped || !plain_mapped) return std::nullopt;
  return *xor_mapped != *plain_mapped;
}

namespace {

const char* why_not_run(NatDiscovery d) {
  switch (d) {
    case NatDiscovery::no_answer:
      return "unknown: no STUN answer";
    case NatDiscovery::tcp:
      return "unknown: not tested over TCP (RFC 5780 tests need UDP)";
    case NatDiscovery::disabled:
      return "unknown: not tested (nat_discovery is false)";
    case NatDiscovery::no_other_address:
      return "unknown: server lacks RFC 5780";
    case NatDiscovery::other_address_refused:
      return "unknown: the server's OTHER-ADDRESS was not followed";
    case NatDiscovery::ran:
      break;
  }
  return "";
}

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json endpoint_or_null(const std::optional<Endpoint>& e) {
  return e ? nlohmann::json(to_string(*e)) : nlohmann::json(nullptr);
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// What to open, said the way a firewall administrator writes a rule.
std::string open_rule(const StunResult& r) {
  std::string address = r.address ? r.address->to_string() : "";
  return fmt::format("Allow outbound {} {} from this network to {}{} (and its replies) on the firewall",
                     upper(r.transport), r.port, r.server,
                     address.empty() || address == r.server ? "" : " (" + address + ")");
}

std::string error_text(const ErrorCode& e) { return fmt::format("{} {}", e.code, e.reason); }

// An ICMP error ended the wait: from the server itself a closed port (the
// host is there and said nothing listens: no firewall to open), otherwise a
// device on the path that rejects the port.
Judgement judge_icmp(const StunResult& r) {
  Judgement j;
  std::string address = r.address ? r.address->to_string() : r.server;
  std::string host = address == r.server ? r.server : fmt::format("{} ({})", r.server, address);
  if (r.closed_port()) {
    j.summary =
        fmt::format("closed port: {} answered that nothing listens on UDP {} ({})", host, r.port, r.icmp->describe());
    j.findings.push_back(make_finding(
        Severity::critical, "stun.port_closed",
        fmt::format("Closed port: {} answered the Binding request on UDP {} with ICMP port unreachable: the host is "
                    "reachable, but nothing listens on that port (not a firewall drop)",
                    host, r.port),
        fmt::format("Check that the STUN server runs on {} and listens on UDP {}, and that this is the right address "
                    "and port for this deployment; the firewall is not what stops it",
                    host, r.port),
        Operation::receive));
    // Whether the firewall would let STUN through cannot be told while
    // nothing listens: the rule's remediation (open the firewall) does not
    // apply, this finding's own does.
    j.findings.back().inconclusive = true;
    return j;
  }
  j.summary = fmt::format("UDP {} to {} rejected on the path ({})", r.port, host, r.icmp->describe());
  j.findings.push_back(make_finding(Severity::critical, "stun.rejected",
                                    fmt::format("UDP {} to {} was refused by a device on the path ({}): a firewall or "
                                                "router rejects this port",
                                                r.port, host, r.icmp->describe()),
                                    open_rule(r), Operation::receive));
  return j;
}

// No answer at all: the first exchange failed at `r.failed`.
Judgement judge_unanswered(const StunResult& r, const StunParams& p) {
  Judgement j;
  std::string address = r.address ? r.address->to_string() : "";
  if (r.failed == Operation::connect && r.transport == "udp") {
    j.summary = fmt::format("no route to {} ({})", p.target(), address);
    j.findings.push_back(
        make_finding(Severity::critical, "stun.no_route",
                     fmt::format("This machine has no route to {} ({}): {}", r.server, address, r.error),
                     "Check the default route / gateway of this network", Operation::connect));
    return j;
  }
  if (r.icmp) return judge_icmp(r);
  j.summary = fmt::format("no STUN answer from {}: {}", p.target(), r.error);
  if (!r.junk.empty()) {
    j.findings.push_back(make_finding(
        Severity::critical, "stun.bad_response",
        fmt::format("{} answered, but not with a valid STUN response: {}", p.target(), r.junk),
        "Check that the port reaches a STUN server and that no middlebox rewrites the packets", Operation::parse));
  } else if (r.failed == Operation::connect) {
    j.findings.push_back(
        make_finding(Severity::critical, "stun.tcp_connect_failed",
                     fmt::format("Cannot open TCP {} to {} ({}): {}", r.port, r.server, address, r.error), open_rule(r),
                     Operation::connect));
  } else {
    j.findings.push_back(make_finding(
        Severity::critical, "stun.no_response",
        fmt::format("No STUN answer from {} over {} port {}: {}", r.server, upper(r.transport), r.port, r.error),
        open_rule(r) + (r.transport == "udp" ? "; UDP media also needs stateful return traffic allowed" : ""),
        r.failed == Operation::none ? Operation::receive : r.failed));
  }
  return j;
}

}  // namespace

std::string StunResult::mapping_text() const {
  return discovery == NatDiscovery::ran ? behaviour.mapping.text() : why_not_run(discovery);
}

std::string StunResult::filtering_text() const {
  return discovery == NatDiscovery::ran ? behaviour.filtering.text() : why_not_run(discovery);
}

bool StunResult::closed_port() const {
  return icmp && icmp->port_unreachable() && icmp->offender && address && *icmp->offender == *address;
}

std::optional<std::string> StunResult::public_address() const {
  auto m = mapped();
  if (!m) return std::nullopt;
  return to_string(*m);
}

void to_json(nlohmann::json& j, const StunResult& r) {
  j = nlohmann::json{
      {"server", r.server},
      {"port", r.port},
      {"transport", r.transport},
      {"reachable", r.answered},
      {"rtt_ms", or_null(r.rtt_ms)},
      {"local_address", endpoint_or_null(r.local)},
      {"mapped_address", endpoint_or_null(r.mapped())},
      {"nat", or_null(r.nat())},
      {"software", or_null(r.software)},
      {"alg_suspected", or_null(r.alg_suspected())},
      {"other_address", endpoint_or_null(r.other_address)},
      {"mapping_behavior", r.mapping_text()},
      {"filtering_behavior", r.filtering_text()},
  };
  if (r.address) j["address"] = r.address->to_string();
  if (r.transport == "udp") {
    j["icmp"] = r.icmp ? nlohmann::json(r.icmp->describe()) : nlohmann::json(nullptr);
    j["closed_port"] = r.closed_port();
  }
  if (r.requests_sent) j["requests_sent"] = *r.requests_sent;
  write_silence(j, r.silence);
  // Where the RFC 5780 tests sent probes besides the server, or why they did not.
  if (r.discovery == NatDiscovery::ran && r.other_address) j["other_address_followed"] = to_string(*r.other_address);
  if (r.discovery == NatDiscovery::other_address_refused) j["other_address_not_followed"] = r.other_address_refused;
  if (r.error_response) j["error_response"] = error_text(*r.error_response);
  if (r.discovery == NatDiscovery::ran) {
    if (!r.behaviour.mapping.evidence.empty()) j["mapping_evidence"] = r.behaviour.mapping.evidence;
    if (!r.behaviour.filtering.evidence.empty()) j["filtering_evidence"] = r.behaviour.filtering.evidence;
    write_silence(j, r.behaviour.filtering.silence, "filtering_");
  }
}

Judgement judge(const StunResult& r, const StunParams& p) {
  if (r.unresolved) {
    return checks::unresolved_judgement("stun", *r.unresolved, "reach the STUN server " + p.target());
  }
  if (!r.answered) return judge_unanswered(r, p);

  Judgement j;
  if (r.error_response) {
    auto text = error_text(*r.error_response);
    j.summary = fmt::format("{} answered with error {}", p.target(), text);
    j.findings.push_back(
        make_finding(Severity::warning, "stun.error_response",
                     fmt::format("{} is reachable but refused the Binding request (error {})", p.target(), text),
                     "Check that this is the right STUN server and port for this deployment", Operation::receive));
    return j;
  }
  auto mapped = r.mapped();
  if (!mapped) {
    j.summary = fmt::format("{} answered without a mapped address", p.target());
    j.findings.push_back(make_finding(Severity::warning, "stun.no_mapped_address",
                                      fmt::format("{} answered but reported no (XOR-)MAPPED-ADDRESS", p.target()),
                                      "Check that this is a STUN server (RFC 5389)", Operation::parse));
    return j;
  }

  if (r.alg_suspected().value_or(false))
    j.findings.push_back(make_finding(
        Severity::warning, "stun.alg_rewrite",
        fmt::format("A device on the path rewrites addresses inside packets: the server saw {} "
                    "(XOR-MAPPED-ADDRESS) but MAPPED-ADDRESS arrived as {} — an application-layer gateway (ALG)",
                    to_string(*r.xor_mapped), to_string(*r.plain_mapped)),
        "Disable the SIP/STUN ALG (\"SIP inspection\", \"fixup\", \"SIP helper\") on the firewall or router; it "
        "breaks signalling and media"));
  bool nat = r.nat().value_or(false);
  if (nat)
    j.findings.push_back(
        make_finding(Severity::info, "stun.nat",
                     fmt::format("Traffic is translated (NAT): this machine's {} is seen as {} by {}",
                                 r.local ? to_string(*r.local) : "address", to_string(*mapped), p.target()),
                     ""));
  if (r.discovery == NatDiscovery::no_other_address)
    j.findings.push_back(
        make_finding(Severity::info, "stun.no_rfc5780",
                     fmt::format("{} returned no OTHER-ADDRESS, so the NAT's mapping and filtering "
                                 "behaviour cannot be measured against it",
                                 p.target()),
                     "Point the check at an RFC 5780 server (callready respond --alt-address, or coturn "
                     "with two listening IPs) to classify the NAT"));
  if (r.discovery == NatDiscovery::other_address_refused)
    j.findings.push_back(
        make_finding(Severity::info, "stun.other_address_not_followed",
                     fmt::format("{}: {}, so the NAT's mapping and filtering behaviour was not measured", p.target(),
                                 r.other_address_refused),
                     "Point the check at an RFC 5780 server whose alternate address is in the same "
                     "address family as its primary one"));
  auto mapping = r.behaviour.mapping.behaviour;
  if (r.discovery == NatDiscovery::ran &&
      (mapping == Behaviour::address_dependent || mapping == Behaviour::address_and_port_dependent))
    j.findings.push_back(make_finding(
        Severity::warning, "stun.nat_mapping_dependent",
        fmt::format("The NAT gives each destination its own public port ({} mapping, a \"symmetric\" NAT): the "
                    "address learned through STUN does not work for other peers, so direct media (ICE) fails and "
                    "calls fall back to a media relay",
                    to_string(mapping)),
        "Configure endpoint-independent mapping (RFC 4787 REQ-1) for the phones' subnet: on most firewalls a "
        "persistent/static source-port NAT rule for UDP media, and no port randomisation"));

  j.summary = fmt::format("STUN answered from {} in {} ms; mapped address {}{}", p.target(), r.rtt_ms.value_or(0),
                          to_string(*mapped), nat ? " (behind NAT)" : " (no NAT)");
  return j;
}

}  // namespace callready::checks::stun
