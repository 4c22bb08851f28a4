#include "checks/udp_range/udp_range_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/udp_range/udp_sweep.hpp"
#include "probe/net/port_ranges.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/net/target.hpp"

namespace callready::checks {

namespace {

using State = PortResult::State;

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::vector<std::uint16_t> read_ports(ParamReader& r, const std::string& key, bool required) {
  auto items = r.string_list_or(key);
  if (items.empty()) {
    if (required) r.error(key, "required: \"A-B\" or a list of them");
    return {};
  }
  try {
    return net::expand_ports(net::parse_port_ranges(join(items)));
  } catch (const std::exception& e) {
    r.error(key, e.what());
    return {};
  }
}

struct UdpRangeParams {
  std::string host;
  std::vector<std::uint16_t> ports;
  std::vector<std::uint16_t> source_ports;
  int max_pps = 200;
  int attempts = 3;
  long long reply_wait_ms = 500;
  std::optional<std::string> token;
  std::optional<long long> control_port;

  static UdpRangeParams parse(ParamReader& r) {
    UdpRangeParams p;
    p.host = r.string("host");
    p.ports = read_ports(r, "ports", true);
    p.source_ports = read_ports(r, "source_ports", false);
    p.max_pps = static_cast<int>(r.integer_or("max_pps", 1, 100000, 200));
    p.attempts = static_cast<int>(r.integer_or("attempts", 1, 10, 3));
    p.reply_wait_ms = r.integer_or("reply_wait_ms", 20, 10000, 500);
    p.token = r.opt_string("token");
    p.control_port = r.opt_integer("control_port", 1, 65535);
    return p;
  }
  std::string target() const { return fmt::format("{} udp {}", host, join(net::merge_port_ranges(ports))); }
};

// The control port: the param, else the port of --responder, else the default.
unsigned short control_port_for(const UdpRangeParams& p, const ScanSettings& s) {
  if (p.control_port) return static_cast<unsigned short>(*p.control_port);
  if (s.responder) {
    auto colon = s.responder->rfind(':');
    auto bracket = s.responder->rfind(']');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
      try {
        auto spans = net::parse_port_ranges(s.responder->substr(colon + 1));
        if (spans.size() == 1 && spans[0].first == spans[0].last) return spans[0].first;
      } catch (const std::exception&) {
      }
    }
  }
  return net::kDefaultControlPort;
}

std::vector<std::uint16_t> ports_in(const std::vector<std::uint16_t>& ports, const std::vector<PortResult>& results,
                                    State state, int by_target = -1) {
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < ports.size(); ++i)
    if (results[i].state == state && (by_target < 0 || results[i].rejected_by_target == (by_target == 1)))
      out.push_back(ports[i]);
  return out;
}

boost::asio::awaitable<CheckOutcome> run_udp_range(UdpRangeParams p, CheckContext& ctx) {
  const std::string token = p.token.value_or(ctx.settings.token);
  auto lookup = co_await net::resolve_target(ctx, "udp_range", p.host, "sweep UDP ports on " + p.host);
  if (lookup.failure) {
    CheckOutcome failed;
    failed.summary = lookup.failure->message;
    failed.findings.push_back(*lookup.failure);
    failed.details = {{"host", p.host}, {"ports_tested", 0}, {"open", json::array()}, {"blocked", json::array()}};
    co_return failed;
  }
  auto address = lookup.addresses.front();

  CheckOutcome out;
  json details = {{"host", p.host}, {"address", address.to_string()}};

  // Ask the responder which ports it serves and whether it takes our token, so
  // that a wrong token or a narrower --udp-ports is not reported as a firewall.
  std::vector<std::uint16_t> sweep_ports = p.ports, not_served;
  boost::asio::ip::tcp::endpoint control(address, control_port_for(p, ctx.settings));
  auto info = co_await ctx.responder.ask(address, control.port(), token, ctx.budget(Millis(3000)));
  details["control"] = info.ok() ? "ok" : info.error;
  if (info.failure == net::ResponderInfo::Failure::unauthorized)
    co_return CheckOutcome::failed(
        ErrorReason::setup, Operation::control,
        fmt::format("the responder at {} rejected the token: set the same --token on both ends", p.host));
  if (info.ok()) {
    sweep_ports.clear();
    for (auto port : p.ports)
      (info.serves("udp_echo", port) ? sweep_ports : not_served)
          .push_back(port);
    if (!not_served.empty())
      out.findings.push_back(Finding{
          Severity::warning, "udp_range.not_served",
          fmt::format("The responder at {} does not serve UDP {}, so those ports were not tested", p.host,
                      join(net::merge_port_ranges(not_served))),
          fmt::format("Start the responder with --udp-ports covering {}", join(net::merge_port_ranges(p.ports))), ""});
  } else {
    out.findings.push_back(Finding{
        Severity::info, "udp_range.control_unreachable",
        fmt::format(
            "The responder's control port {}:{} did not answer ({}); sweeping without knowing which ports it serves",
            address.to_string(), control.port(), info.error),
        fmt::format("Allow TCP {} to {} or pass the responder's control port (--responder HOST:PORT)", control.port(),
                    address.to_string()),
        ""});
  }

  SweepOptions so;
  so.target = address;
  so.ports = sweep_ports;
  so.source_ports = p.source_ports;
  so.token = token;
  so.max_pps = p.max_pps;
  so.attempts = p.attempts;
  so.max_attempts = std::max(p.attempts, 8);
  so.reply_wait = Millis(p.reply_wait_ms);
  so.deadline = Clock::now() + ctx.budget(ctx.remaining());
  auto r = co_await udp_sweep(ctx.executor, so);
  if (!r.error.empty()) co_return CheckOutcome::failed(ErrorReason::local, Operation::bind, "open UDP socket: " + r.error);

  auto open = ports_in(so.ports, r.ports, State::open);
  auto blocked = ports_in(so.ports, r.ports, State::blocked);
  auto rejected = ports_in(so.ports, r.ports, State::rejected);
  auto rejected_path = ports_in(so.ports, r.ports, State::rejected, 0);
  auto closed_at_target = ports_in(so.ports, r.ports, State::rejected, 1);
  auto untested = ports_in(so.ports, r.ports, State::untested);
  untested.insert(untested.end(), not_served.begin(), not_served.end());

  std::vector<double> rtts;
  for (const auto& pr : r.ports)
    if (pr.state == State::open) rtts.push_back(pr.rtt_ms);
  std::sort(rtts.begin(), rtts.end());

  details["ports_tested"] = so.ports.size();
  details["open"] = net::merge_port_ranges(open);
  details["blocked"] = net::merge_port_ranges(blocked);
  details["rejected"] = net::merge_port_ranges(rejected);
  details["untested"] = net::merge_port_ranges(untested);
  details["attempts"] = p.attempts;
  details["rounds"] = r.rounds;
  details["max_pps"] = p.max_pps;
  details["probes_sent"] = r.probes_sent;
  details["loss_estimate"] = r.loss_estimate;
  if (!rtts.empty()) details["rtt_ms"] = rtts[rtts.size() / 2];
  if (r.observed_source) {
    const auto& seen = *r.observed_source;
    details["observed_source"] = seen.address().is_v6()
                                     ? fmt::format("[{}]:{}", seen.address().to_string(), seen.port())
                                     : fmt::format("{}:{}", seen.address().to_string(), seen.port());
  }
  if (!p.source_ports.empty()) {
    details["source_ports"] = net::merge_port_ranges(r.source_ports_used);
    details["source_ports_unavailable"] = net::merge_port_ranges(r.source_ports_unavailable);
  }
  json rejected_by = json::array();
  for (std::size_t i = 0; i < so.ports.size(); ++i)
    if (r.ports[i].state == State::rejected) rejected_by.push_back({{"port", so.ports[i]}, {"icmp", r.ports[i].icmp}});
  if (!rejected_by.empty()) details["rejected_by"] = rejected_by;
  out.details = std::move(details);

  std::string from =
      p.source_ports.empty() ? std::string() : " from local ports " + join(net::merge_port_ranges(r.source_ports_used));
  if (!blocked.empty()) {
    auto ranges = join(net::merge_port_ranges(blocked));
    bool nothing = open.empty() && rejected.empty();
    out.findings.push_back(Finding{
        Severity::critical, "udp_range.blocked",
        fmt::format("No answer from {} on UDP {} after {} attempts: something on the path drops these ports silently{}",
                    p.host, ranges, r.rounds, nothing && !info.ok() ? " (or the responder is not running there)" : ""),
        fmt::format("Allow outbound UDP{} to {} ports {}, and the replies back", from, address.to_string(), ranges),
        ""});
  }
  if (!rejected_path.empty()) {
    auto ranges = join(net::merge_port_ranges(rejected_path));
    std::string by;
    for (std::size_t i = 0; i < so.ports.size() && by.empty(); ++i)
      if (r.ports[i].state == State::rejected && !r.ports[i].rejected_by_target) by = r.ports[i].icmp;
    out.findings.push_back(Finding{
        Severity::critical, "udp_range.rejected",
        fmt::format("UDP {} to {} was refused ({}): a firewall on the path rejects these ports", ranges, p.host, by),
        fmt::format("Allow outbound UDP{} to {} ports {}, and the replies back", from, address.to_string(), ranges),
        ""});
  }
  if (!closed_at_target.empty()) {
    auto ranges = join(net::merge_port_ranges(closed_at_target));
    out.findings.push_back(Finding{
        Severity::warning, "udp_range.closed_at_responder",
        fmt::format("{} itself answered ICMP port unreachable on UDP {}: the path is open but nothing listens there",
                    p.host, ranges),
        fmt::format("Start the responder with --udp-ports covering {}", ranges), ""});
  }
  if (r.cut_short)
    out.findings.push_back(
        Finding{Severity::warning, "udp_range.incomplete",
                fmt::format("The time limit ended the sweep early; UDP {} were not probed every time",
                            untested.empty() ? std::string("some ports") : join(net::merge_port_ranges(untested))),
                "Raise the check's timeout_ms or max_pps, or test fewer ports", ""});

  out.summary = fmt::format("{} of {} UDP ports open on {}", open.size(), so.ports.size(), p.host);
  if (!blocked.empty()) out.summary += fmt::format(", blocked {}", join(net::merge_port_ranges(blocked)));
  if (!rejected.empty()) out.summary += fmt::format(", rejected {}", join(net::merge_port_ranges(rejected)));
  if (!rtts.empty()) out.summary += fmt::format(" (median RTT {:.2f} ms)", rtts[rtts.size() / 2]);
  co_return out;
}

}  // namespace

CheckKind udp_range_check_kind() { return make_check_kind<UdpRangeParams>("udp_range", Millis(60000), run_udp_range); }

}  // namespace callready::checks
