#include "checks/ice/ice_check.hpp"

#include <fmt/format.h>

#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace {

void server_param(ParamReader& r, const char* key, std::string& out) {
  auto text = r.opt_string(key);
  if (!text || text->empty()) return;
  auto hp = net::parse_host_port(*text);
  if (!hp || hp->host.empty())
    r.error(key, fmt::format("expected HOST:PORT, got \"{}\"", *text));
  else
    out = *text;
}

nlohmann::json pair_json(const IceResult& r) {
  if (!r.connected()) return nullptr;
  const auto& l = *r.selected_local;
  const auto& m = *r.selected_remote;
  return {{"local_type", l.type},
          {"remote_type", m.type},
          {"transport", l.transport},
          {"local_address", net::format_host_port(l.address, l.port)},
          {"remote_address", net::format_host_port(m.address, m.port)}};
}

nlohmann::json counts_json(const std::map<std::string, int>& counts) {
  nlohmann::json j = {{"host", 0}, {"srflx", 0}, {"prflx", 0}, {"relay", 0}};
  for (const auto& [type, n] : counts) j[type] = n;
  return j;
}

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

IceParams IceParams::parse(ParamReader& r) {
  IceParams p;
  p.host = r.string_or("host", "");
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  server_param(r, "stun", p.stun);
  server_param(r, "turn", p.turn);
  p.turn_username = r.string_or("turn_username", "");
  p.turn_password = r.string_or("turn_password", "");
  p.turn_transport = r.choice("turn_transport", {"udp", "tcp", "tls"}, "udp");
  p.relay_only = r.boolean_or("relay_only", false);
  p.ice_tcp = r.boolean_or("ice_tcp", false);
  p.gather_cap_ms = static_cast<int>(r.integer_or("gather_cap_ms", 500, 10000, 3000));
  p.connect_timeout_ms = static_cast<int>(r.integer_or("connect_timeout_ms", 500, 30000, 5000));
  if (p.relay_only && p.turn.empty()) r.error("relay_only", "needs a turn server");
  if (!p.turn.empty() && (p.turn_username.empty() || p.turn_password.empty()))
    r.error("turn", "needs turn_username and turn_password");
  return p;
}

std::string IceParams::target() const {
  std::string t = host.empty() ? "responder" : host;
  if (!stun.empty()) t += " stun " + stun;
  if (!turn.empty()) t += " turn " + turn + "/" + turn_transport;
  if (relay_only) t += " relay-only";
  if (ice_tcp) t += " +tcp";
  return t;
}

bool IceResult::relay_required() const {
  return connected() && (selected_local->type == "relay" || selected_remote->type == "relay");
}

void to_json(nlohmann::json& j, const IceResult& r) {
  j = {{"responder", r.responder},
       {"stun", r.stun.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.stun)},
       {"turn", r.turn.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.turn)},
       {"relay_only", r.relay_only},
       {"ice_tcp", r.ice_tcp},
       {"candidates", counts_json(r.candidates)},
       {"remote_candidates", counts_json(r.remote_candidates)},
       {"gathering_ms", or_null(r.gathering_ms)},
       {"gathering_complete", r.gathering_complete},
       {"gather_cap_ms", r.gather_cap_ms},
       {"selected_pair", pair_json(r)},
       {"relay_required", r.relay_required()},
       {"connected_ms", or_null(r.connected_ms)},
       {"rtt_ms", or_null(r.rtt_ms)},
       {"probes", {{"sent", r.probes_sent}, {"echoed", r.probes_echoed}}}};
  if (!r.turn.empty()) {
    nlohmann::json t = {
        {"server", r.turn}, {"transport", r.turn_transport}, {"allocate", ice::to_string(r.turn_probe.outcome)}};
    if (r.turn_probe.error_code) t["error_code"] = r.turn_probe.error_code;
    j["turn_check"] = std::move(t);
  }
}

CheckKind ice_check_kind() {
  return make_check_kind<IceParams, IceResult>("ice", Millis(20000),
                                               {&measure_ice, &judge_ice, &ice_view, &ice_metrics});
}

}  // namespace callready::checks
