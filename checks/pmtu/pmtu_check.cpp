#include "checks/pmtu/pmtu_check.hpp"

#include "checks/common/responder_step.hpp"
#include "checks/pmtu/pmtu_metrics.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {
namespace {

boost::asio::awaitable<Measured<PmtuResult>> measure_pmtu(PmtuParams p, CheckContext& ctx) {
  Measured<PmtuResult> m;
  auto& out = m.result;
  out.host = p.host;
  out.port = p.port;
  out.max_tested = p.max_mtu;
  out.thresholds = PmtuThresholds::of(p, false);
  auto asking = resolve_and_ask(ctx, p.host, p.control_port);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  auto address = step.address();
  out.address = address.to_string();
  out.thresholds = PmtuThresholds::of(p, address.is_v6());
  // Silence from a responder that is not there, rejects our token or does not
  // serve this port would look like a path that carries nothing: a set-up error.
  if (auto setup = net::setup_error(step.info, "udp_echo", p.port)) {
    m.error = std::move(setup);
    co_return m;
  }

  pmtu::SearchOptions so;
  so.target = boost::asio::ip::udp::endpoint(address, p.port);
  so.token = ctx.settings.token;
  so.max_mtu = p.max_mtu;
  if (p.probe_timeout_ms) so.timeout = Millis(*p.probe_timeout_ms);
  so.budget = ctx.budget(Millis(8000));
  auto searching = pmtu::search_path_mtu(so);
  auto s = co_await std::move(searching);
  if (s.error) m.error = s.error;
  out.search = std::move(s);
  co_return m;
}

}  // namespace

PmtuParams PmtuParams::parse(ParamReader& r) {
  PmtuParams p;
  p.host = r.string("host");
  p.port = r.port("port");
  p.max_mtu = static_cast<int>(r.integer_or("max_mtu", 576, 9000, 1500));
  p.recommended_mtu = static_cast<int>(r.integer_or("recommended_mtu", 576, 9000, 1500));
  p.minimum_mtu = static_cast<int>(r.integer_or("minimum_mtu", 576, 9000, 1300));
  p.sip_message_bytes = static_cast<int>(r.integer_or("sip_message_bytes", 0, 9000, 1300));
  p.probe_timeout_ms = r.opt_integer("probe_timeout_ms", 10, 5000);
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  return p;
}

std::string PmtuParams::target() const { return net::format_host_port(host, port); }

PmtuThresholds PmtuThresholds::of(const PmtuParams& p, bool v6) {
  PmtuThresholds t;
  t.warning_below = p.recommended_mtu;
  t.critical_below = p.minimum_mtu;
  t.sip_message_bytes = p.sip_message_bytes;
  t.sip_fragmentation_below = p.sip_message_bytes > 0 ? p.sip_message_bytes + pmtu::header_bytes(v6) : 0;
  return t;
}

CheckKind pmtu_check_kind() {
  return make_check_kind<PmtuParams, PmtuResult>("pmtu", Millis(15000),
                                                 {&measure_pmtu, &judge_pmtu, &pmtu_view, &pmtu_metrics});
}

}  // namespace callready::checks
