// `pmtu`: path MTU with DF set toward the responder's UDP echo port.
// Thresholds (seeds): Webex keeps 1500 (000, MTU section; 001, MTU section),
// never below 1300 (001); DF is set and ICMP must flow (000). A black hole
// (big packets vanish, no ICMP) is its own critical finding.
#include "checks/pmtu/pmtu_check.hpp"

#include <fmt/format.h>

#include <cmath>

#include "checks/pmtu/pmtu_search.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/target.hpp"

namespace callready::checks {
namespace {

constexpr const char* kSeed000 =
    "000_657a5ed6fe137e34.txt, section \"Webex Calling の MTU サイズ & Webex Aware サービス\" (MTU size for Webex "
    "Calling and Webex Aware services)";
constexpr const char* kSeed001 =
    "001_0143181e3fa0e64a.txt, section \"MTU-grootte voor Webex IPv4- en IPv6-verkeer\" (MTU size for Webex IPv4 and "
    "IPv6 traffic)";

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

  static PmtuParams parse(ParamReader& r) {
    PmtuParams p;
    p.host = r.string("host");
    p.port = r.port("port");
    p.max_mtu = static_cast<int>(r.integer_or("max_mtu", 576, 9000, 1500));
    p.recommended_mtu = static_cast<int>(r.integer_or("recommended_mtu", 576, 9000, 1500));
    p.minimum_mtu = static_cast<int>(r.integer_or("minimum_mtu", 576, 9000, 1300));
    p.sip_message_bytes = static_cast<int>(r.integer_or("sip_message_bytes", 0, 9000, 1300));
    p.probe_timeout_ms = r.opt_integer("probe_timeout_ms", 10, 5000);
    return p;
  }
  std::string target() const {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  }
};

json search_json(const pmtu::SearchResult& s) {
  json tested = json::array();
  for (const auto& t : s.tested) {
    json j = {{"size", t.size}, {"result", t.result}};
    if (t.mtu) j["mtu"] = t.mtu;
    tested.push_back(j);
  }
  return tested;
}

boost::asio::awaitable<CheckOutcome> run_pmtu(PmtuParams p, CheckContext& ctx) {
  CheckOutcome out;
  auto& d = out.details;
  d["host"] = p.host;
  d["port"] = p.port;
  d["path_mtu"] = nullptr;
  d["icmp_seen"] = false;
  d["black_hole"] = false;
  auto lookup = co_await net::resolve_target(ctx, "pmtu", p.host, "measure the path MTU", Severity::warning);
  if (lookup.failure) {
    out.summary = lookup.failure->message;
    out.findings.push_back(*lookup.failure);
    co_return out;
  }
  pmtu::SearchOptions so;
  so.target = boost::asio::ip::udp::endpoint(lookup.addresses.front(), p.port);
  so.token = ctx.settings.token;
  so.max_mtu = p.max_mtu;
  if (p.probe_timeout_ms) so.timeout = Millis(*p.probe_timeout_ms);
  so.budget = ctx.budget(Millis(8000));
  auto s = co_await pmtu::search_path_mtu(so);
  if (!s.error.empty()) co_return CheckOutcome::failed(ErrorReason::internal, "pmtu: " + s.error);

  d["address"] = so.target.address().to_string();
  d["icmp_seen"] = s.icmp_seen;
  d["black_hole"] = s.black_hole;
  d["probes_sent"] = s.probes_sent;
  d["method"] = s.method;
  d["max_tested"] = p.max_mtu;
  d["upper_bound_reached"] = s.upper_bound_reached;
  d["icmp_mtu"] = s.icmp_mtu ? json(*s.icmp_mtu) : json(nullptr);
  d["route_mtu"] = s.route_mtu ? json(*s.route_mtu) : json(nullptr);
  if (s.local_mtu) d["local_mtu"] = *s.local_mtu;
  d["tested"] = search_json(s);
  if (s.path_mtu) d["path_mtu"] = *s.path_mtu, d["rtt_ms"] = std::round(s.rtt_ms * 100) / 100;

  const std::string icmp_fix = fmt::format(
      "Allow ICMP type 3 code 4 (Fragmentation Needed) and ICMPv6 type 2 (Packet Too Big) through every firewall and "
      "router toward {}; Webex sets DF and relies on ICMP when packets must shrink ({})",
      p.host, kSeed000);
  if (!s.path_mtu) {
    d["undetermined"] = s.icmp_mtu ? "no reply from a responder: only the ICMP-reported next-hop MTU is known"
                                   : "no reply from a responder and no ICMP: the path MTU could not be established";
    out.summary = s.icmp_mtu ? fmt::format("path MTU not confirmed; ICMP reports a next-hop MTU of {}", *s.icmp_mtu)
                             : fmt::format("path MTU to {} not established (no responder answer)", p.target());
    out.findings.push_back(
        {Severity::warning, "pmtu.no_responder",
         fmt::format("No echo reply from {}: the path MTU could not be confirmed{}", p.target(),
                     s.icmp_mtu ? fmt::format(" (a router reported an MTU of {} bytes)", *s.icmp_mtu) : ""),
         fmt::format("Run `callready respond --udp-ports {}` on the responder host and allow UDP {} to it", p.port,
                     p.port),
         ""});
    co_return out;
  }
  int mtu = *s.path_mtu;
  if (s.black_hole) {
    out.findings.push_back(
        {Severity::critical, "pmtu.black_hole",
         fmt::format("IP packets larger than {} bytes with DF set vanish on the way to {} and no ICMP Fragmentation "
                     "Needed comes back (a PMTU black hole): large signalling and media packets will be lost silently",
                     mtu, p.host),
         icmp_fix, ""});
  }
  int ip_sip = p.sip_message_bytes + pmtu::header_bytes(so.target);
  if (mtu < p.minimum_mtu) {
    out.findings.push_back(
        {Severity::critical, "pmtu.below_minimum",
         fmt::format("The path MTU to {} is {} bytes, below the minimum of {} Webex supports", p.host, mtu,
                     p.minimum_mtu),
         fmt::format("Raise the MTU of the links and tunnels on this path to 1500 bytes, at least {} ({})",
                     p.minimum_mtu, kSeed001),
         ""});
  } else if (mtu < p.recommended_mtu) {
    out.findings.push_back(
        {Severity::warning, "pmtu.below_recommended",
         fmt::format("The path MTU to {} is {} bytes, below the {} bytes Webex recommends", p.host, mtu,
                     p.recommended_mtu),
         fmt::format("Keep an MTU of {} bytes on every link of the path (VPN/PPPoE/tunnels lower it) ({})",
                     p.recommended_mtu, kSeed001),
         ""});
  }
  if (p.sip_message_bytes > 0 && mtu < ip_sip) {
    out.findings.push_back(
        {Severity::warning, "pmtu.sip_fragmentation",
         fmt::format("A typical SIP INVITE with SDP ({} bytes, {} as an IP packet) is larger than the path MTU of {}: "
                     "over UDP it would be fragmented, and fragments are often dropped by firewalls and NATs",
                     p.sip_message_bytes, ip_sip, mtu),
         "Use SIP over TCP/TLS (Webex Calling devices do by default) or raise the path MTU to 1500 bytes", ""});
  }
  std::string how = s.method == "responder" ? "" : " (reduced mode: arrivals shown by ICMP port unreachable)";
  out.summary = fmt::format("path MTU {} bytes{}{}{}{}", mtu, s.upper_bound_reached ? " (the largest size tried)" : "",
                            s.icmp_seen ? ", ICMP Fragmentation Needed seen" : "",
                            s.black_hole ? ", larger packets vanish without ICMP (black hole)" : "", how);
  co_return out;
}

}  // namespace

CheckKind pmtu_check_kind() { return make_check_kind<PmtuParams>("pmtu", Millis(15000), &run_pmtu); }

}  // namespace callready::checks
