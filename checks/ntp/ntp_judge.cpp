// The `ntp` verdict: pure, from the NtpResult alone. Findings say what was
// observed; the requirement they break and its citation come from the rule.
#include <fmt/format.h>

#include <cmath>

#include "checks/common/finding.hpp"
#include "checks/ntp/ntp_result.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::ntp {

NtpParams NtpParams::parse(ParamReader& r) {
  NtpParams p;
  p.host = r.string("host");
  p.port = r.port_or("port", 123);
  p.samples = static_cast<int>(r.integer_or("samples", 1, 8, 4));
  p.max_offset_ms = static_cast<double>(r.integer_or("max_offset_ms", 1, 86'400'000, 1000));
  p.max_root_distance_ms = static_cast<double>(r.integer_or("max_root_distance_ms", 1, 16'000, 1500));
  p.optional = r.boolean_or("optional", false);
  return p;
}

std::string NtpParams::target() const { return net::format_host_port(host, port) + "/udp"; }

const Reply* NtpResult::chosen() const {
  if (const auto* best = best_sample(exchange)) return best;
  for (auto kind : {ReplyKind::kiss, ReplyKind::unsynchronised})
    for (const auto& r : exchange.replies)
      if (r.kind == kind) return &r;
  return nullptr;
}

std::optional<std::string> NtpResult::kiss_code() const {
  for (const auto& r : exchange.replies)
    if (r.kind == ReplyKind::kiss) return reference_text(r.packet.reference_id);
  return std::nullopt;
}

std::optional<std::string> NtpResult::refid() const {
  const auto* c = chosen();
  if (!c) return std::nullopt;
  if (c->packet.stratum <= 1) return reference_text(c->packet.reference_id);
  return reference_address(c->packet.reference_id);
}

std::optional<double> NtpResult::root_distance_ms() const {
  const auto* c = chosen();
  if (!c || c->kind != ReplyKind::sample) return std::nullopt;
  return short_format_ms(c->packet.root_delay) / 2 + short_format_ms(c->packet.root_dispersion) +
         c->sample.delay_ms / 2;
}

bool NtpResult::closed_port() const {
  const auto& icmp = exchange.icmp;
  return icmp && icmp->port_unreachable() && icmp->offender && address && *icmp->offender == *address;
}

std::string NtpResult::outcome() const {
  if (unresolved) return "unresolved";
  if (const auto* c = chosen()) {
    if (c->kind == ReplyKind::sample) return "answered";
    return c->kind == ReplyKind::kiss ? "kiss" : "unsynchronised";
  }
  if (exchange.failed == Operation::connect) return "no_route";
  if (exchange.icmp) return closed_port() ? "closed" : "rejected";
  if (exchange.rejected_replies > 0) return "invalid";
  return "silent";
}

namespace {

// To the microsecond; a tiny negative value rounds to 0, never "-0".
double rounded(double v, double unit = 1000) {
  double r = std::round(v * unit) / unit;
  return r == 0 ? 0.0 : r;
}

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

const char* kind_text(ReplyKind k) {
  switch (k) {
    case ReplyKind::sample:
      return "sample";
    case ReplyKind::kiss:
      return "kiss";
    case ReplyKind::unsynchronised:
      return "unsynchronised";
  }
  return "sample";
}

nlohmann::json samples_json(const NtpResult& r) {
  auto j = nlohmann::json::array();
  const auto* kept = r.chosen();
  for (const auto& reply : r.exchange.replies) {
    bool timed = reply.kind == ReplyKind::sample;
    j.push_back({{"request", reply.request},
                 {"kind", kind_text(reply.kind)},
                 {"offset_ms", timed ? nlohmann::json(rounded(reply.sample.offset_ms)) : nlohmann::json(nullptr)},
                 {"delay_ms", timed ? nlohmann::json(rounded(reply.sample.delay_ms)) : nlohmann::json(nullptr)},
                 {"kept", &reply == kept}});
  }
  return j;
}

std::string host_text(const NtpResult& r) {
  std::string address = r.address ? r.address->to_string() : r.server;
  return address == r.server ? r.server : fmt::format("{} ({})", r.server, address);
}

std::string open_rule(const NtpResult& r) {
  return fmt::format(
      "Allow outbound UDP {} from this network to {} (and its replies) on the firewall, or point the devices "
      "and apps at an NTP server inside the network",
      r.port, host_text(r));
}

// No valid reply: the path or the server said no, or nothing came back.
Judgement judge_unanswered(const NtpResult& r, const NtpParams& p) {
  Judgement j;
  const auto& ex = r.exchange;
  auto host = host_text(r);
  auto out = r.outcome();
  if (out == "no_route") {
    j.summary = fmt::format("no route to {}", host);
    j.findings.push_back(make_finding(Severity::critical, "ntp.no_route",
                                      fmt::format("This machine has no route to {}: {}", host, ex.error),
                                      "Check the default route / gateway of this network", Operation::connect));
  } else if (out == "closed") {
    j.summary = fmt::format("closed port: {} answered that nothing listens on UDP {}", host, r.port);
    j.findings.push_back(make_finding(
        Severity::critical, "ntp.port_closed",
        fmt::format("{} answered the NTP request with {}: the host is reachable, but no NTP server listens on UDP {} "
                    "(not a firewall drop)",
                    host, ex.icmp->describe(), r.port),
        fmt::format("Check that {} runs an NTP server on UDP {} and that this is the right server for this site", host,
                    r.port),
        Operation::receive));
    j.findings.back().inconclusive = true;  // the firewall was never the question
  } else if (out == "rejected") {
    j.summary = fmt::format("UDP {} to {} rejected on the path ({})", r.port, host, ex.icmp->describe());
    j.findings.push_back(make_finding(
        Severity::critical, "ntp.rejected",
        fmt::format("NTP (UDP {}) to {} was refused by a device on the path ({}): a firewall or router rejects it",
                    r.port, host, ex.icmp->describe()),
        open_rule(r), Operation::receive));
  } else if (out == "invalid") {
    j.summary = fmt::format("no valid NTP reply from {}: {}", p.target(), ex.rejected_reason);
    j.findings.push_back(
        make_finding(Severity::critical, "ntp.bad_response",
                     fmt::format("{} datagram(s) came back from {}, none a valid reply to our requests: {}",
                                 ex.rejected_replies, host, ex.rejected_reason),
                     "Check that the port reaches an NTP server and that no middlebox rewrites NTP", Operation::parse));
  } else {
    j.summary = fmt::format("no NTP answer from {}: {}", p.target(), ex.error);
    j.findings.push_back(
        make_finding(Severity::critical, "ntp.silent",
                     fmt::format("No answer from {} on UDP {}: {} (dropped on the path, or the server does not answer)",
                                 host, r.port, ex.error),
                     open_rule(r), ex.failed == Operation::none ? Operation::receive : ex.failed));
  }
  return j;
}

// RFC 5905 §7.4: RATE asks the client to slow down (it may still get time);
// DENY and RSTR refuse this client access, anything else is the server's own.
Finding kiss_finding(const NtpResult& r, const std::string& code) {
  bool refused = code == "DENY" || code == "RSTR";
  auto meaning = code == "RATE" ? "the server limits how often this network may ask"
                 : refused      ? "the server refuses this client (access control)"
                                : "the server sent a kiss-o'-death";
  return make_finding(refused ? Severity::critical : Severity::warning, "ntp.kiss_of_death",
                      fmt::format("{} answered with kiss-o'-death {}: {}", host_text(r), code, meaning),
                      refused ? fmt::format("Ask the operator of {} to allow this network, or use an NTP server that "
                                            "serves it",
                                            host_text(r))
                              : "Query the server less often: several devices behind one NAT address share its rate "
                                "limit, so give them a local NTP server to ask",
                      Operation::receive);
}

void judge_clock(const NtpResult& r, const NtpParams& p, const Reply& c, Judgement& j) {
  auto distance = r.root_distance_ms().value_or(0);
  if (distance > p.max_root_distance_ms)
    j.findings.push_back(make_finding(
        Severity::warning, "ntp.root_distance",
        fmt::format("{}'s root distance is {:.1f} ms (root delay {:.1f} ms, root dispersion {:.1f} ms), above {:.0f} "
                    "ms: a client does not trust its time",
                    host_text(r), distance, short_format_ms(c.packet.root_delay),
                    short_format_ms(c.packet.root_dispersion), p.max_root_distance_ms),
        "Use an NTP server closer to a good reference (lower stratum, shorter path)"));
  double offset = c.sample.offset_ms;
  bool local_unsynchronised = r.local_clock.known && !r.local_clock.synchronised;
  if (std::abs(offset) > p.max_offset_ms) {
    j.findings.push_back(make_finding(
        Severity::warning, "ntp.offset",
        fmt::format("{}'s time differs from this machine's by {:+.1f} ms (limit {:.0f} ms){}", host_text(r), offset,
                    p.max_offset_ms,
                    local_unsynchronised ? ": this machine's clock is not synchronised, so the error may be ours" : ""),
        local_unsynchronised ? "Synchronise this machine's clock (an NTP daemon), then run the check again"
                             : fmt::format("Check {}'s own time sources: it serves time that is {:+.1f} s off",
                                           host_text(r), offset / 1000),
        Operation::receive));
    // Which clock is wrong cannot be told while ours is free-running.
    j.findings.back().inconclusive = local_unsynchronised;
  }
  if (local_unsynchronised)
    j.findings.push_back(
        make_finding(Severity::info, "ntp.local_clock_unsynchronised",
                     "This machine's clock is not synchronised (adjtimex reports STA_UNSYNC): the offset "
                     "compares the server with a free-running clock",
                     "Run an NTP daemon on this machine (chrony, systemd-timesyncd)"));
}

}  // namespace

void to_json(nlohmann::json& j, const NtpResult& r) {
  const auto* c = r.chosen();
  bool timed = c && c->kind == ReplyKind::sample;
  auto kiss = r.kiss_code();
  j = nlohmann::json{
      {"server", r.server},
      {"port", r.port},
      {"address", r.address ? nlohmann::json(r.address->to_string()) : nlohmann::json(nullptr)},
      {"reachable", r.answered()},
      {"outcome", r.outcome()},
      {"offset_ms", timed ? nlohmann::json(rounded(c->sample.offset_ms)) : nlohmann::json(nullptr)},
      {"delay_ms", timed ? nlohmann::json(rounded(c->sample.delay_ms)) : nlohmann::json(nullptr)},
      {"stratum", c ? nlohmann::json(c->packet.stratum) : nlohmann::json(nullptr)},
      {"leap", c ? nlohmann::json(to_string(c->packet.leap)) : nlohmann::json(nullptr)},
      {"refid", or_null(r.refid())},
      {"kiss_code", or_null(kiss)},
      {"version", c ? nlohmann::json(c->packet.version) : nlohmann::json(nullptr)},
      {"root_delay_ms", c ? nlohmann::json(rounded(short_format_ms(c->packet.root_delay))) : nlohmann::json(nullptr)},
      {"root_dispersion_ms",
       c ? nlohmann::json(rounded(short_format_ms(c->packet.root_dispersion))) : nlohmann::json(nullptr)},
      {"root_distance_ms",
       r.root_distance_ms() ? nlohmann::json(rounded(*r.root_distance_ms())) : nlohmann::json(nullptr)},
      {"samples", samples_json(r)},
      {"requests_sent", r.exchange.sent()},
      {"rejected_replies", r.exchange.rejected_replies},
      {"icmp", r.exchange.icmp ? nlohmann::json(r.exchange.icmp->describe()) : nlohmann::json(nullptr)},
      {"closed_port", r.closed_port()},
      {"local_clock", r.local_clock},
  };
  if (!r.exchange.rejected_reason.empty()) j["rejected_reason"] = r.exchange.rejected_reason;
  if (!r.answered() && !r.exchange.error.empty()) j["error"] = r.exchange.error;
}

Judgement judge(const NtpResult& r, const NtpParams& p) {
  if (r.unresolved) return checks::unresolved_judgement("ntp", *r.unresolved, "query the NTP server " + p.target());
  const auto* c = r.chosen();
  if (!c && p.optional) {
    // Not serving NTP is allowed here: what happened is said, and costs nothing.
    auto j = judge_unanswered(r, p);
    for (auto& f : j.findings) {
      f.severity = Severity::info;
      f.inconclusive = true;
    }
    j.summary += " (this host need not serve NTP)";
    return j;
  }
  if (!c) return judge_unanswered(r, p);

  Judgement j;
  auto kiss = r.kiss_code();
  if (kiss) j.findings.push_back(kiss_finding(r, *kiss));
  if (c->kind == ReplyKind::kiss) {
    j.summary = fmt::format("{} answered with kiss-o'-death {} and no time", host_text(r), *kiss);
    return j;
  }
  if (c->kind == ReplyKind::unsynchronised) {
    j.summary = fmt::format("{} answered but is not synchronised (leap {}, stratum {})", host_text(r),
                            to_string(c->packet.leap), c->packet.stratum);
    j.findings.push_back(make_finding(
        Severity::critical, "ntp.server_unsynchronised",
        fmt::format("{} answered on UDP {} but says its own clock is not synchronised (leap "
                    "indicator {}, stratum {}): it has no time to give",
                    host_text(r), r.port, to_string(c->packet.leap), c->packet.stratum),
        fmt::format("Check {}'s upstream time sources, or use another NTP server", host_text(r)), Operation::receive));
    return j;
  }
  judge_clock(r, p, *c, j);
  j.summary = fmt::format("NTP answered from {}: stratum {}, refid {}, offset {:+.3f} ms, delay {:.3f} ms (best of {})",
                          host_text(r), c->packet.stratum, r.refid().value_or(""), c->sample.offset_ms,
                          c->sample.delay_ms, r.exchange.replies.size());
  return j;
}

}  // namespace callready::checks::ntp
