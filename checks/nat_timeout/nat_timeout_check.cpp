#include "checks/nat_timeout/nat_timeout_check.hpp"

#include <fmt/format.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "checks/common/responder_step.hpp"
#include "checks/nat_timeout/nat_timeout_metrics.hpp"
#include "checks/nat_timeout/nat_timeout_tcp.hpp"
#include "checks/nat_timeout/nat_timeout_udp.hpp"

namespace callready::checks {
namespace {

namespace asio = boost::asio;

// What the check needs besides the rungs: warm-up, the last reply's grace,
// the after-probe on TCP and the closing control query.
Millis overhead(const NatTimeoutParams& p) { return Millis(p.warmup_ms + 2 * p.reply_wait_ms + 4000); }

// The rungs this run can afford: the ladder up to max_s, cut to the time
// left, with the thresholds themselves as rungs so a verdict never falls
// between two rungs. The overhead already leaves 4 s to report; ctx.budget()'s
// 10% on top would cut 17 s off a 170 s check and the default max_s of 150 s
// would never be tried.
std::vector<int> rungs_for(const NatTimeoutParams& p, CheckContext& ctx) {
  auto affordable = (std::min(ctx.remaining(), Millis(p.max_s) * 1000 + overhead(p)) - overhead(p)) / Millis(1000);
  int max_s = static_cast<int>(std::min<long long>(p.max_s, std::max<long long>(affordable, 0)));
  auto wanted = p.ladder.empty() ? nat_timeout::default_ladder() : p.ladder;
  wanted.push_back(p.udp_min_s);
  wanted.push_back(p.tcp_min_s);
  return nat_timeout::plan_ladder(wanted, max_s);
}

asio::awaitable<nat_timeout::UdpLadderResult> run_udp(asio::any_io_executor ex, nat_timeout::UdpLadderOptions o,
                                                      bool wanted) {
  if (!wanted) co_return nat_timeout::UdpLadderResult{};
  auto measuring = nat_timeout::measure_udp_ladder(ex, std::move(o));
  co_return co_await std::move(measuring);
}

asio::awaitable<nat_timeout::TcpLadderResult> run_tcp(asio::any_io_executor ex, nat_timeout::TcpLadderOptions o,
                                                      bool wanted) {
  if (!wanted) co_return nat_timeout::TcpLadderResult{};
  auto measuring = nat_timeout::measure_tcp_ladder(ex, std::move(o));
  co_return co_await std::move(measuring);
}

asio::awaitable<Measured<NatTimeoutResult>> measure_nat_timeout(NatTimeoutParams p, CheckContext& ctx) {
  using namespace asio::experimental::awaitable_operators;
  Measured<NatTimeoutResult> m;
  auto& out = m.result;
  out.host = p.host;
  out.max_s_requested = p.max_s;
  out.udp_min_s = p.udp_min_s;
  out.tcp_min_s = p.tcp_min_s;
  auto asking = resolve_and_ask(ctx, p.host, p.control_port);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  auto address = step.address();
  out.address = address.to_string();
  // A responder that is missing, refuses our token or does not serve the port
  // would look like a binding that expired at once: a set-up error instead.
  std::optional<CheckError> setup;
  if (p.udp) setup = net::setup_error(step.info, "udp_echo", p.udp_port);
  if (!setup && p.tcp) setup = net::setup_error(step.info, "tcp_accept", p.tcp_port);
  if (setup) {
    m.error = std::move(setup);
    co_return m;
  }

  auto rungs = rungs_for(p, ctx);
  if (rungs.empty()) {
    m.error = CheckError{ErrorReason::timeout, Operation::none,
                         fmt::format("The check's time budget leaves no idle time to test (max_s {}); raise its "
                                     "timeout_ms and the scan's --timeout above max_s",
                                     p.max_s)};
    co_return m;
  }
  nat_timeout::UdpLadderOptions uo;
  uo.target = asio::ip::udp::endpoint(address, p.udp_port);
  uo.token = ctx.settings.token;
  uo.rungs = rungs;
  uo.warmup = Millis(p.warmup_ms);
  uo.reply_wait = Millis(p.reply_wait_ms);
  nat_timeout::TcpLadderOptions to;
  to.target = asio::ip::tcp::endpoint(address, p.tcp_port);
  to.token = ctx.settings.token;
  to.rungs = rungs;
  to.reply_wait = Millis(p.reply_wait_ms);

  auto udp_run = run_udp(ctx.executor, std::move(uo), p.udp);
  auto tcp_run = run_tcp(ctx.executor, std::move(to), p.tcp);
  auto [u, t] = co_await (std::move(udp_run) && std::move(tcp_run));
  if (p.udp) {
    out.udp = NatTimeoutProtocol{p.udp_port, std::move(u.call_like)};
    out.udp_single = NatTimeoutProtocol{p.udp_port, std::move(u.single)};
    out.mapped_udp = u.mapped;
  }
  if (p.tcp) out.tcp = NatTimeoutProtocol{p.tcp_port, std::move(t.lifetime)};
  if (u.error)
    m.error = std::move(u.error);
  else if (t.error)
    m.error = std::move(t.error);
  co_return m;
}

}  // namespace

NatTimeoutParams NatTimeoutParams::parse(ParamReader& r) {
  NatTimeoutParams p;
  p.host = r.string("host");
  p.max_s = static_cast<int>(r.integer_or("max_s", 5, 7200, 150));
  auto protocols = r.string_list_or("protocols", {"udp", "tcp"});
  p.udp = p.tcp = false;
  for (const auto& name : protocols) {
    if (name == "udp")
      p.udp = true;
    else if (name == "tcp")
      p.tcp = true;
    else
      r.error("protocols", "expected a list of \"udp\" and \"tcp\", got \"" + name + "\"");
  }
  if (!p.udp && !p.tcp && r.ok()) r.error("protocols", "expected at least one of \"udp\", \"tcp\"");
  if (const auto* ladder = r.raw("ladder")) {
    if (!ladder->is_array() || ladder->empty())
      r.error("ladder", "expected a non-empty list of idle times in seconds");
    else
      for (std::size_t i = 0; i < ladder->size(); ++i) {
        const auto& v = (*ladder)[i];
        if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 7200)
          r.error(fmt::format("ladder[{}]", i), "expected an integer 1-7200 (seconds)");
        else
          p.ladder.push_back(v.get<int>());
      }
  }
  p.udp_port = r.port_or("udp_port", 19560);
  p.tcp_port = r.port_or("tcp_port", 8443);
  p.udp_min_s = static_cast<int>(r.integer_or("udp_min_s", 1, 7200, 120));
  p.tcp_min_s = static_cast<int>(r.integer_or("tcp_min_s", 1, 7200 * 4, 1800));
  p.warmup_ms = r.integer_or("warmup_ms", 2100, 30000, 2500);
  p.reply_wait_ms = r.integer_or("reply_wait_ms", 100, 30000, 2000);
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  return p;
}

std::string NatTimeoutParams::target() const {
  std::string t = host;
  if (udp) t += fmt::format(" udp/{}", udp_port);
  if (tcp) t += fmt::format(" tcp/{}", tcp_port);
  return t;
}

CheckKind nat_timeout_check_kind() {
  // The default ladder tops out at max_s (150 s by default) plus warm-up and grace.
  return make_check_kind<NatTimeoutParams, NatTimeoutResult>(
      "nat_timeout", Millis(170000),
      {&measure_nat_timeout, &judge_nat_timeout, &nat_timeout_view, &nat_timeout_metrics});
}

}  // namespace callready::checks
