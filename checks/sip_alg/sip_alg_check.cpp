// `sip_alg`: is there a SIP ALG (router/firewall "SIP inspection") on the path?
// The mirror method: the responder returns each request exactly as it arrived
// (probe/respond/sip_service.cpp); any difference from what was sent was made on
// the way. Second signal: the response's Via ;received= is the address the
// responder saw; an ALG rewrites it back to our private address on the return.
// Third: requests or responses an ALG silently drops (some drop what they cannot
// parse, or an INVITE whose media port collides with another call's).
//
// SIP over TLS (5061) is not probed: an ALG cannot read inside TLS, so it can
// neither rewrite nor be detected there. Seed 000 still asks to turn ALGs off
// because they break traversal of the (encrypted) Webex Calling traffic.
#include "checks/sip_alg/sip_alg_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/sip_alg/sip_alg_exchange.hpp"
#include "probe/net/async.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/target.hpp"

namespace callready::checks {
namespace {

using sip_alg::Attempt;

constexpr const char* kSeedSection =
    "000_657a5ed6fe137e34.txt, section \"SIP アプリケーション層ゲートウェイ\" (SIP Application Layer Gateway)";

struct SipAlgParams {
  std::string host;
  std::uint16_t port = 5060;
  std::string transport = "udp";
  std::uint16_t source_port = 5060;  // also try from this port; 0 = ephemeral only
  std::vector<std::string> methods;
  long long timeout_ms = 1500;  // per request

  static SipAlgParams parse(ParamReader& r) {
    SipAlgParams p;
    p.host = r.string("host");
    p.port = r.port_or("port", 5060);
    p.transport = r.choice("transport", {"udp", "tcp", "both"}, "udp");
    p.source_port = static_cast<std::uint16_t>(r.integer_or("source_port", 0, 65535, 5060));
    p.methods = r.string_list_or("methods", {"INVITE", "REGISTER"});
    if (p.methods.empty()) r.error("methods", "expected at least one of INVITE, REGISTER, OPTIONS");
    for (std::size_t i = 0; i < p.methods.size(); ++i)
      if (p.methods[i] != "INVITE" && p.methods[i] != "REGISTER" && p.methods[i] != "OPTIONS")
        r.error(fmt::format("methods[{}]", i), "expected INVITE, REGISTER or OPTIONS, got \"" + p.methods[i] + "\"");
    p.timeout_ms = r.integer_or("timeout_ms_per_request", 100, 30000, 1500);
    return p;
  }
  std::string target() const {
    auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return fmt::format("{}:{}/{}", h, port, transport);
  }
};

json attempt_json(const Attempt& a) {
  json j = {{"transport", a.transport},
            {"source_port", a.requested_port ? json(a.requested_port) : json("ephemeral")},
            {"local", a.local},
            {"method", a.method},
            {"outcome", a.outcome}};
  if (!a.error.empty()) j["error"] = a.error;
  if (a.status) j["status"] = a.status, j["rtt_ms"] = std::round(a.rtt_ms * 10) / 10;
  if (a.diff) {
    json changed = json::array();
    json changes = json::object();
    for (const auto& c : a.diff->changes) {
      changed.push_back(c.field);
      changes[c.field] = {{"sent", c.sent}, {"received", c.received}};
    }
    j["rewritten"] = changed;
    j["changes"] = changes;
    j["observed_source"] = a.observed_source;
    j["response_via_received"] = a.response_received;
    j["response_via_rewritten"] = a.response_via_rewritten;
  }
  return j;
}

std::string describe(const Attempt& a) {
  return fmt::format("{} over {} from {}", a.method, a.transport,
                     a.requested_port ? "port " + std::to_string(a.requested_port) : std::string("an ephemeral port"));
}

boost::asio::awaitable<CheckOutcome> run_sip_alg(SipAlgParams p, CheckContext& ctx) {
  CheckOutcome out;
  auto& d = out.details;
  d["host"] = p.host;
  d["port"] = p.port;
  d["transport"] = p.transport;
  d["alg_detected"] = false;
  d["rewritten"] = json::array();
  d["tls"] = "not probed: an ALG cannot read SIP inside TLS (5061), so it neither rewrites nor shows there";
  auto lookup = co_await net::resolve_target(ctx, "sip_alg", p.host, "test for a SIP ALG", Severity::warning);
  if (lookup.failure) {
    out.summary = lookup.failure->message;
    out.findings.push_back(*lookup.failure);
    co_return out;
  }
  auto remote = lookup.addresses.front();

  std::vector<boost::asio::awaitable<std::vector<Attempt>>> tasks;
  std::vector<bool> tcps;
  if (p.transport != "tcp") tcps.push_back(false);
  if (p.transport != "udp") tcps.push_back(true);
  auto per_request = ctx.budget(Millis(p.timeout_ms * static_cast<long long>(p.methods.size()))) /
                     static_cast<long long>(p.methods.size());
  std::vector<std::uint16_t> sources;
  if (p.source_port) sources.push_back(p.source_port);
  sources.push_back(0);
  for (bool tcp : tcps)
    for (auto source : sources) {
      sip_alg::ChannelSpec c;
      c.tcp = tcp;
      c.remote = remote;
      c.remote_port = p.port;
      c.source_port = source;
      c.methods = p.methods;
      c.timeout = per_request;
      tasks.push_back(sip_alg::run_channel(std::move(c)));
    }
  auto channels = co_await net::gather(std::move(tasks));

  std::vector<Attempt> attempts;
  for (auto& ch : channels)
    for (auto& a : ch) attempts.push_back(std::move(a));
  std::vector<std::string> rewritten;
  std::vector<const Attempt*> lost, answered, via_rewritten;
  const Attempt* shown = nullptr;
  json list = json::array();
  for (const auto& a : attempts) {
    list.push_back(attempt_json(a));
    if (a.outcome == "mirrored" || a.outcome == "no_mirror") answered.push_back(&a);
    if (a.outcome == "no_response") lost.push_back(&a);
    if (a.response_via_rewritten) via_rewritten.push_back(&a);
    if (!a.diff) continue;
    for (const auto& c : a.diff->changes)
      if (std::find(rewritten.begin(), rewritten.end(), c.field) == rewritten.end()) rewritten.push_back(c.field);
    if (!shown || (shown->diff->changes.empty() && !a.diff->changes.empty())) shown = &a;
  }
  d["attempts"] = list;
  d["rewritten"] = rewritten;
  d["response_via_rewritten"] = !via_rewritten.empty();
  if (shown) {
    d["sent"] = shown->diff->sent;
    d["received"] = shown->diff->received;
    d["observed_source"] = shown->observed_source;
    d["shown_attempt"] = describe(*shown);
  }
  // Requests that vanished while others on the same path were answered: an ALG's doing.
  bool selective_drop = !lost.empty() && !answered.empty();
  json dropped = json::array();
  for (const auto* a : lost) dropped.push_back(describe(*a));
  d["dropped"] = dropped;
  bool detected = !rewritten.empty() || !via_rewritten.empty() || selective_drop;
  d["alg_detected"] = detected;

  const std::string remediation = fmt::format(
      "Disable SIP ALG / SIP inspection (\"SIP helper\", \"SIP fixup\", \"SIP transformations\") on the router or "
      "firewall between this site and the SIP servers; Webex Calling asks for it to be off ({}).",
      kSeedSection);
  if (!rewritten.empty()) {
    out.findings.push_back(
        {Severity::critical, "sip_alg.detected",
         fmt::format(
             "A SIP ALG on the path rewrote the SIP messages: {} arrived changed (first seen on {}). Rewritten "
             "signalling breaks registration, NAT traversal and media of encrypted and unencrypted calls alike.",
             fmt::join(rewritten, ", "), shown ? describe(*shown) : std::string("a request")),
         remediation, ""});
  }
  if (!via_rewritten.empty()) {
    const auto* a = via_rewritten.front();
    out.findings.push_back(
        {Severity::critical, "sip_alg.response_rewritten",
         fmt::format("The responder answered with Via received={} (the address it saw), but the answer arrived with "
                     "received={}: a SIP ALG rewrote the response on its way back ({}).",
                     a->observed_source.substr(0, a->observed_source.rfind(':')), a->response_received, describe(*a)),
         remediation, ""});
  }
  if (selective_drop) {
    out.findings.push_back(
        {Severity::critical, "sip_alg.dropped",
         fmt::format("{} went unanswered while {} got through: something on the path (typically a SIP ALG that "
                     "cannot parse or track the message) silently drops SIP.",
                     fmt::join(d["dropped"].get<std::vector<std::string>>(), "; "), describe(*answered.front())),
         remediation, ""});
  }
  for (const auto& a : attempts)
    if (a.outcome == "source_port_busy" && a.method == attempts.front().method)
      out.findings.push_back({Severity::info, "sip_alg.source_port_busy",
                              fmt::format("Source port {} is in use on this machine (a softphone?); {} from it was "
                                          "not tested",
                                          a.requested_port, a.transport),
                              "Close the application holding the port to also test from it", ""});

  if (answered.empty()) {
    bool refused =
        std::any_of(attempts.begin(), attempts.end(), [](const Attempt& a) { return a.outcome == "refused"; });
    out.summary = fmt::format("no answer from the SIP mirror at {}; SIP ALG presence unknown", p.target());
    out.findings.push_back(
        {Severity::warning, refused ? "sip_alg.refused" : "sip_alg.no_answer",
         fmt::format("The SIP mirror at {} {}: cannot tell whether a SIP ALG is on the path", p.target(),
                     refused ? "refused the requests (nothing listening, or a firewall REJECT)"
                             : "did not answer (SIP blocked, dropped by an ALG, or no responder)"),
         fmt::format("Run `callready respond --sip-ports {}` on the responder host and allow SIP to it", p.port), ""});
  } else if (detected) {
    out.summary = rewritten.empty() ? fmt::format("SIP ALG detected on the path to {}", p.target())
                                    : fmt::format("SIP ALG detected: {} rewritten", fmt::join(rewritten, ", "));
  } else {
    out.summary = fmt::format("no SIP ALG: {} request(s) over {} arrived unchanged", answered.size(), p.transport);
  }
  co_return out;
}

}  // namespace

CheckKind sip_alg_check_kind() { return make_check_kind<SipAlgParams>("sip_alg", Millis(10000), &run_sip_alg); }

}  // namespace callready::checks
