// nat_timeout's verdict and details, from the measured result alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "checks/nat_timeout/nat_timeout_check.hpp"

namespace callready::checks {

namespace {

using nat_timeout::Lifetime;
using nat_timeout::RungOutcome;

nlohmann::json optional_int(const std::optional<int>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json protocol_json(const std::optional<NatTimeoutProtocol>& p) {
  if (!p) return nullptr;
  const auto& l = p->lifetime;
  nlohmann::json j = {{"lifetime_min_s", optional_int(l.lifetime_min_s())},
                      {"lifetime_max_s", optional_int(l.lifetime_max_s())},
                      {"max_s", l.max_s()},
                      {"port", p->port}};
  if (l.unreachable) j["unreachable"] = *l.unreachable;
  auto& rungs = j["rungs"] = nlohmann::json::array();
  for (const auto& r : l.rungs) {
    nlohmann::json x = {{"idle_s", r.idle_s}, {"outcome", nat_timeout::to_string(r.outcome)}};
    if (!r.after.empty()) x["after"] = r.after;
    rungs.push_back(std::move(x));
  }
  return j;
}

// What a short lifetime means for calls, per protocol.
struct Variant {
  const char* code;
  const char* name;  // "UDP binding (call-like warm-up)"
  const char* harm;
};

constexpr Variant kUdp{"nat_timeout.udp_short", "UDP binding after a call-like exchange",
                       "media and signalling that pause longer than this lose their way back (one-way audio)"};
constexpr Variant kUdpSingle{"nat_timeout.udp_single_short", "UDP binding after a single request and reply",
                             "a phone's REGISTER binding expires between refreshes: incoming calls cannot reach it"};
constexpr Variant kTcp{"nat_timeout.tcp_short", "idle TCP connection",
                       "idle SIP/TLS connections are dropped: calls and notifications stop until the client notices"};

std::string after_words(const Lifetime& l) {
  for (const auto& r : l.rungs)
    if (r.outcome == RungOutcome::expired && !r.after.empty()) {
      if (r.after == "reset") return "; using the connection afterwards got a reset";
      if (r.after == "silence") return "; using the connection afterwards got no answer at all (silent drop)";
      if (r.after == "closed") return "; the connection was closed";
      if (r.after == "reply") return "; the connection still answered when the client spoke first";
    }
  return "";
}

void judge_lifetime(Judgement& j, const NatTimeoutResult& r, const std::optional<NatTimeoutProtocol>& p,
                    const Variant& v, int min_s, const char* protocol, const char* unproven_code) {
  if (!p) return;
  const auto& l = p->lifetime;
  if (l.unreachable) {
    j.findings.push_back(
        {Severity::warning, "nat_timeout.unreachable",
         fmt::format("{} to {} port {} carried nothing ({}): its timeout was not measured", protocol, r.host, p->port,
                     *l.unreachable),
         fmt::format("Allow {} to {} port {} (see the reachability checks)", protocol, r.host, p->port), "",
         *protocol == 'T' ? Operation::connect : Operation::receive, true});
    return;
  }
  if (!l.consistent())
    j.findings.push_back({Severity::warning, "nat_timeout.inconsistent",
                          fmt::format("{}: an idle time of {} s reached the client after {} s did not: packet loss "
                                      "or a NAT that drops bindings unevenly; the shorter one is read as loss",
                                      v.name, *l.lifetime_min_s(), *l.contradicted_s()),
                          "Rerun the check; if it persists, look for loss on the path", "", Operation::receive});
  auto expired = l.lifetime_max_s();
  if (expired && *expired <= min_s) {
    j.findings.push_back(
        {Severity::critical, v.code,
         fmt::format("The {} to {} expired after {} of idle time (at least {} s is required): {}{}", v.name, r.host,
                     l.range(), min_s, v.harm, after_words(l)),
         fmt::format("Raise the {} timeout of the NAT / firewall for {} to at least {} s", protocol, protocol, min_s),
         "", Operation::receive});
    return;
  }
  if (!expired && l.max_s() < min_s)
    j.findings.push_back(
        {Severity::info, unproven_code,
         fmt::format("The {} survived {} s idle, the longest this run allowed; {} s is required and was not proven. "
                     "To prove it, run this check alone with max_s={} and a timeout above it, e.g. `callready scan "
                     "--only <this check> --timeout {}` with params max_s and timeout_ms raised in a profile file",
                     v.name, l.max_s(), min_s, min_s, min_s + 60),
         "", "", Operation::none});
}

}  // namespace

void to_json(nlohmann::json& j, const NatTimeoutResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  if (r.address) j["address"] = *r.address;
  j["udp"] = protocol_json(r.udp);
  j["udp_single"] = protocol_json(r.udp_single);
  j["tcp"] = protocol_json(r.tcp);
  j["max_s_requested"] = r.max_s_requested;
  j["thresholds"] = {{"udp_min_s", r.udp_min_s}, {"tcp_min_s", r.tcp_min_s}};
  if (r.mapped_udp) j["mapped_udp"] = *r.mapped_udp;
}

Judgement judge_nat_timeout(const NatTimeoutResult& r, const NatTimeoutParams& p) {
  Judgement j;
  if (r.unresolved) {
    return checks::unresolved_judgement("nat_timeout", *r.unresolved, "measure NAT timeouts towards " + p.host);
  }
  judge_lifetime(j, r, r.udp, kUdp, r.udp_min_s, "UDP", "nat_timeout.udp_unproven");
  judge_lifetime(j, r, r.udp_single, kUdpSingle, r.udp_min_s, "UDP", "nat_timeout.udp_unproven");
  judge_lifetime(j, r, r.tcp, kTcp, r.tcp_min_s, "TCP", "nat_timeout.tcp_unproven");

  std::vector<std::string> parts;
  auto part = [&](const std::optional<NatTimeoutProtocol>& x, const char* label) {
    if (x) parts.push_back(fmt::format("{} {}", label, x->lifetime.unreachable ? "unreachable" : x->lifetime.range()));
  };
  part(r.udp, "UDP call-like");
  part(r.udp_single, "UDP single exchange");
  part(r.tcp, "TCP");
  j.summary = fmt::format("Idle lifetime towards {}: {}", p.host, fmt::join(parts, ", "));
  return j;
}

}  // namespace callready::checks
