// The `ice` measurement: gather, exchange descriptions with the responder's
// agent, run the checks, time a few probes over the pair. Decides nothing.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "checks/common/responder_step.hpp"
#include "checks/ice/ice_agent.hpp"
#include "checks/ice/ice_check.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;

namespace {

constexpr int kProbes = 5;
constexpr Millis kProbeWait(500);

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::map<std::string, int> count_types(const std::vector<ice::Candidate>& list) {
  std::map<std::string, int> counts;
  for (const auto& c : list) ++counts[c.type];
  return counts;
}

// A server param resolved to its first address; nullopt when absent or unresolved.
asio::awaitable<std::optional<std::pair<std::string, std::uint16_t>>> resolve_server(
    CheckContext& ctx, const std::string& text, std::optional<TargetAddresses>& unresolved) {
  if (text.empty()) co_return std::nullopt;
  auto hp = net::parse_host_port(text);
  auto resolving = resolve_target(ctx, hp->host);
  auto target = co_await std::move(resolving);
  if (!target.resolved()) {
    unresolved = std::move(target);
    co_return std::nullopt;
  }
  co_return std::pair{target.addresses.front().to_string(), hp->port.value_or(3478)};
}

asio::awaitable<ice::TurnProbe> maybe_probe_turn(const std::optional<ice::TurnServer>& turn, Millis cap) {
  if (!turn || turn->transport != "udp") co_return ice::TurnProbe{};
  asio::ip::udp::endpoint server(asio::ip::make_address(turn->address), turn->port);
  auto probing = ice::probe_turn(server, turn->username, turn->password, cap);
  co_return co_await std::move(probing);
}

std::optional<CheckError> service_error(const net::ServiceAnswer& answer) {
  if (answer.ok()) {
    if (!answer.reply.contains("error")) return std::nullopt;
    auto word = answer.reply.value("error", "");
    auto why = answer.reply.value("message", "");
    if (word == "busy")
      return CheckError{ErrorReason::setup, Operation::control, "the responder's ICE service is busy: " + why};
    return CheckError{ErrorReason::internal, Operation::control,
                      fmt::format("the responder's ICE service refused our description ({}): {}", word, why)};
  }
  if (answer.refusal == "no_such_service")
    return CheckError{ErrorReason::setup, Operation::control,
                      "the responder does not run the ICE service; start it with --ice (and --ice-stun)"};
  if (answer.failure == net::ResponderInfo::Failure::unauthorized)
    return CheckError{ErrorReason::setup, Operation::control,
                      answer.error + ": the responder rejected the token; set the same --token on both ends"};
  return CheckError{ErrorReason::setup, Operation::control, answer.error};
}

// Probes over the selected pair, one at a time; the median round trip.
asio::awaitable<void> time_probes(ice::Agent& agent, IceResult& out) {
  std::vector<double> rtts;
  for (int i = 0; i < kProbes; ++i) {
    auto sent = Clock::now();
    agent.send_probe(static_cast<std::uint32_t>(i));
    ++out.probes_sent;
    auto echoed = [i](const ice::AgentState& s) {
      return std::find(s.received.begin(), s.received.end(), static_cast<std::uint32_t>(i)) != s.received.end();
    };
    if (co_await agent.wait(echoed, sent + kProbeWait)) rtts.push_back(ms_since(sent));
  }
  out.probes_echoed = static_cast<int>(rtts.size());
  if (rtts.empty()) co_return;
  std::sort(rtts.begin(), rtts.end());
  out.rtt_ms = std::round(rtts[rtts.size() / 2] * 100) / 100;
}

}  // namespace

asio::awaitable<Measured<IceResult>> measure_ice(IceParams p, CheckContext& ctx) {
  using namespace asio::experimental::awaitable_operators;
  Measured<IceResult> m;
  auto& out = m.result;
  out.stun = p.stun;
  out.turn = p.turn;
  out.turn_transport = p.turn_transport;
  out.turn_username = p.turn_username;
  out.relay_only = p.relay_only;
  out.ice_tcp = p.ice_tcp;
  out.gather_cap_ms = p.gather_cap_ms;
  std::string host = p.host;
  if (host.empty() && ctx.settings.responder)
    if (auto hp = net::parse_host_port(*ctx.settings.responder)) host = hp->host;
  out.responder = host;
  if (host.empty()) {
    m.error = CheckError{ErrorReason::bad_params, Operation::none,
                         "no responder: give the check a host or the scan --responder HOST"};
    co_return m;
  }
  auto asking = resolve_and_ask(ctx, host, p.control_port);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  if (auto setup = net::setup_error(step.info, "ice")) {
    m.error = std::move(setup);
    co_return m;
  }
  auto responder = step.address();

  ice::AgentConfig config;
  config.controlling = true;
  config.relay_only = p.relay_only;
  config.ice_tcp = p.ice_tcp;
  // libnice ignores loopback unless told: a responder on this machine needs it.
  if (responder.is_loopback()) config.local_addresses = {responder.to_string()};
  auto stun_resolving = resolve_server(ctx, p.stun, out.stun_unresolved);
  config.stun = co_await std::move(stun_resolving);
  auto turn_resolving = resolve_server(ctx, p.turn, out.turn_unresolved);
  if (auto turn = co_await std::move(turn_resolving))
    config.turn = ice::TurnServer{turn->first, turn->second, p.turn_username, p.turn_password, p.turn_transport};

  ice::GlibThread glib;  // declared before the agent: it outlives it
  auto agent = ice::Agent::start(glib, ctx.executor, config);
  auto cap = ctx.budget(Millis(p.gather_cap_ms));
  auto started = Clock::now();
  auto turn_probing = maybe_probe_turn(config.turn, cap);
  auto gathering = agent->gather_until(started + cap);
  auto [turn_probe, complete] = co_await (std::move(turn_probing) && std::move(gathering));
  out.turn_probe = std::move(turn_probe);
  out.gathering_complete = complete;
  out.gathering_ms = std::round(ms_since(started));
  if (!agent->state().error.empty()) {
    m.error = CheckError{ErrorReason::local, Operation::bind, agent->state().error};
    co_return m;
  }
  auto local = agent->local_description();
  out.candidates = count_types(local.candidates);

  nlohmann::json request = {{"description", ice::to_message(local)}, {"ice_tcp", p.ice_tcp}};
  asio::ip::tcp::endpoint control(responder, p.control_port.value_or(ctx.responder.default_control_port()));
  auto exchanging =
      net::ask_service(ctx.executor, control, ctx.settings.token, "ice", std::move(request), ctx.budget(Millis(6000)));
  auto answer = co_await std::move(exchanging);
  if (auto error = service_error(answer)) {
    m.error = std::move(error);
    co_return m;
  }
  std::string why;
  auto remote = ice::from_message(answer.reply.value("description", nlohmann::json()), &why);
  if (!remote) {
    m.error =
        CheckError{ErrorReason::internal, Operation::parse, "the responder's ICE description is malformed: " + why};
    co_return m;
  }
  out.exchanged = true;
  out.remote_candidates = count_types(remote->candidates);

  auto connecting = Clock::now();
  agent->set_remote(*remote);
  auto settled = [](const ice::AgentState& s) { return (s.connected && s.selected_local) || s.failed; };
  co_await agent->wait(settled, connecting + ctx.budget(Millis(p.connect_timeout_ms)));
  const auto& state = agent->state();
  out.checks_failed = state.failed && !state.selected_local;
  if (state.connected && state.selected_local) {
    out.connected_ms = std::round(ms_since(connecting) * 10) / 10;
    out.selected_local = state.selected_local;
    out.selected_remote = state.selected_remote;
    if (out.selected_local->type == "prflx") ++out.candidates["prflx"];
    co_await time_probes(*agent, out);
  }
  agent->close();
  co_return m;
}

}  // namespace callready::checks
