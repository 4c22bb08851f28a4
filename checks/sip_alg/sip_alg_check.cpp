// `sip_alg`: is there a SIP ALG (router/firewall "SIP inspection") on the path?
// The mirror method: the responder returns each request exactly as it arrived
// (sip_service.cpp); any difference from what was sent was made on the way.
// The measurement sends realistic requests over UDP and/or TCP, from a fixed
// source port (5060 by default, where ALGs look) and from an ephemeral one,
// and records what came back; sip_alg_judge.cpp decides.
//
// SIP over TLS (5061) is not probed: an ALG cannot read inside TLS, so it can
// neither rewrite nor be detected there.
#include "checks/sip_alg/sip_alg_check.hpp"

#include "checks/common/responder_step.hpp"
#include "checks/sip_alg/sip_alg_exchange.hpp"
#include "checks/sip_alg/sip_alg_metrics.hpp"
#include "checks/sip_alg/sip_alg_result.hpp"
#include "probe/net/async.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"

namespace callready::checks {
namespace sip_alg {
namespace {

boost::asio::awaitable<Measured<Result>> measure(Params p, CheckContext& ctx) {
  Measured<Result> m;
  Result& r = m.result;
  r.host = p.host;
  r.port = p.port;
  r.transport = p.transport;
  // A responder that is not running, rejects our token or does not serve this
  // port would look exactly like a path that drops SIP: ask it first.
  auto asking = resolve_and_ask(ctx, p.host);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    r.unresolved = std::move(step.lookup);
    co_return m;
  }
  auto remote = step.address();
  r.address = remote.to_string();
  if (auto setup = net::setup_error(step.info, "sip", p.port)) {
    m.error = std::move(setup);
    co_return m;
  }

  std::vector<bool> tcps;
  if (p.transport != "tcp") tcps.push_back(false);
  if (p.transport != "udp") tcps.push_back(true);
  std::vector<std::uint16_t> sources;
  if (p.source_port) sources.push_back(p.source_port);
  sources.push_back(0);
  auto methods = static_cast<long long>(p.methods.size());
  auto per_request = ctx.budget(Millis(p.timeout_ms * methods)) / methods;
  std::vector<boost::asio::awaitable<std::vector<Exchange>>> channels;
  for (bool tcp : tcps)
    for (auto source : sources) {
      ChannelSpec c;
      c.tcp = tcp;
      c.remote = remote;
      c.remote_port = p.port;
      c.source_port = source;
      c.methods = p.methods;
      c.timeout = per_request;
      c.token = ctx.settings.token;
      channels.push_back(run_channel(std::move(c)));
    }
  for (auto& exchanges : co_await net::gather(std::move(channels)))
    for (auto& e : exchanges) r.exchanges.push_back(std::move(e));

  // This machine's fault (no socket, no permission) says nothing about the
  // path; a busy fixed source port is only noted, the ephemeral one still ran.
  for (const auto& e : r.exchanges)
    if (e.failure && e.failure->kind == net::NetFailure::local && e.outcome != Outcome::source_port_busy) {
      m.error = CheckError{ErrorReason::local, e.failure->operation, e.failure->message};
      break;
    }
  co_return m;
}

}  // namespace
}  // namespace sip_alg

CheckKind sip_alg_check_kind() {
  return make_check_kind<sip_alg::Params, sip_alg::Result>(
      "sip_alg", Millis(10000), {&sip_alg::measure, &sip_alg::judge, &sip_alg_view, &sip_alg_metrics});
}

}  // namespace callready::checks
