#include "checks/udp_range/udp_range_check.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "checks/common/responder_step.hpp"
#include "checks/udp_range/udp_range_metrics.hpp"
#include "checks/udp_range/udp_sweep.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/path_rtt.hpp"
#include "probe/net/port_ranges.hpp"

namespace callready::checks {

namespace {

using State = PortResult::State;

std::vector<std::uint16_t> read_ports(ParamReader& r, const std::string& key, bool required) {
  auto items = r.string_list_or(key);
  if (items.empty()) {
    if (required) r.error(key, "required: \"A-B\" or a list of them");
    return {};
  }
  try {
    return net::expand_ports(net::parse_port_ranges(fmt::format("{}", fmt::join(items, ","))));
  } catch (const std::exception& e) {
    r.error(key, e.what());
    return {};
  }
}

boost::asio::awaitable<Measured<UdpRangeResult>> measure_udp_range(UdpRangeParams p, CheckContext& ctx) {
  Measured<UdpRangeResult> m;
  auto& out = m.result;
  out.host = p.host;
  out.attempts = p.attempts;
  out.max_pps = p.max_pps;
  out.source_ports_requested = !p.source_ports.empty();
  const std::string token = p.token.value_or(ctx.settings.token);

  // Which ports does the responder serve, and does it take our token? A wrong
  // token, a responder that is not running or a narrower --udp-ports is a
  // set-up error (or untested ports), never a firewall.
  auto asking = resolve_and_ask(ctx, p.host, p.control_port, p.token);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  auto address = step.address();
  out.address = address.to_string();
  const auto& info = step.info;
  out.control = info.ok() ? "ok" : info.error;
  if (auto setup = net::setup_error(info, "udp_echo")) {
    m.error = std::move(setup);
    co_return m;
  }
  for (auto port : p.ports) (info.serves("udp_echo", port) ? out.swept : out.not_served).push_back(port);
  if (out.swept.empty()) {
    m.error = CheckError{ErrorReason::setup, Operation::control,
                         fmt::format("the responder does not serve udp_echo on UDP {}; start it with --udp-ports "
                                     "covering them",
                                     fmt::join(net::merge_port_ranges(p.ports), ","))};
    co_return m;
  }

  SweepOptions so;
  so.target = address;
  so.ports = out.swept;
  so.source_ports = p.source_ports;
  so.token = token;
  so.max_pps = p.max_pps;
  so.attempts = p.attempts;
  so.max_attempts = std::max(p.attempts, 8);
  // max(4 x RTT, 250 ms) once this scan has measured an RTT to the responder
  // (its control port's connect, at least), never more than reply_wait_ms.
  so.reply_wait = net::path_rtt(ctx.executor).silence_wait(address, Millis(p.reply_wait_ms)).wait;
  so.deadline = Clock::now() + ctx.budget(ctx.remaining());
  auto r = co_await udp_sweep(ctx.executor, so);
  out.source_ports_used = r.source_ports_used;
  out.source_ports_unavailable = r.source_ports_unavailable;
  if (r.error) {
    m.error = std::move(r.error);
    co_return m;
  }

  std::vector<double> rtts;
  for (std::size_t i = 0; i < so.ports.size(); ++i) {
    const auto& pr = r.ports[i];
    auto port = so.ports[i];
    switch (pr.state) {
      case State::open:
        out.open.push_back(port);
        rtts.push_back(pr.rtt_ms);
        break;
      case State::blocked:
        out.blocked.push_back(port);
        break;
      case State::rejected:
        out.rejected.push_back({port, pr.icmp, pr.rejected_by_target});
        break;
      case State::untested:
        out.cut_off.push_back(port);
        break;
      case State::foreign:
        out.foreign.push_back(port);
        break;
    }
  }
  std::sort(rtts.begin(), rtts.end());
  if (!rtts.empty()) out.rtt_ms = rtts[rtts.size() / 2];
  out.rounds = r.rounds;
  out.probes_sent = r.probes_sent;
  out.loss_estimate = r.loss_estimate;
  out.cut_short = r.cut_short;
  if (r.observed_source)
    out.observed_source = net::format_host_port(r.observed_source->address(), r.observed_source->port());
  co_return m;
}

}  // namespace

UdpRangeParams UdpRangeParams::parse(ParamReader& r) {
  UdpRangeParams p;
  p.host = r.string("host");
  p.ports = read_ports(r, "ports", true);
  p.source_ports = read_ports(r, "source_ports", false);
  p.max_pps = static_cast<int>(r.integer_or("max_pps", 1, 100000, 200));
  p.attempts = static_cast<int>(r.integer_or("attempts", 1, 10, 3));
  p.reply_wait_ms = r.integer_or("reply_wait_ms", 20, 10000, 500);
  p.token = r.opt_string("token");
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  return p;
}

std::string UdpRangeParams::target() const {
  return fmt::format("{} udp {}", host, fmt::join(net::merge_port_ranges(ports), ","));
}

CheckKind udp_range_check_kind() {
  return make_check_kind<UdpRangeParams, UdpRangeResult>(
      "udp_range", Millis(60000), {&measure_udp_range, &judge_udp_range, &udp_range_view, &udp_range_metrics});
}

}  // namespace callready::checks
