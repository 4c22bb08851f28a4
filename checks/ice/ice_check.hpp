#pragma once
// `ice`: which path would a call's media take? A libnice agent gathers host,
// server-reflexive and relay candidates (STUN and TURN servers as params),
// exchanges one description each way with the agent `callready respond --ice`
// hosts for the session (over the control channel), runs the connectivity
// checks and reports the nominated pair, whether it needs a relay, the time
// to gather and to connect, and the round trip over the pair.
#include <map>
#include <optional>
#include <string>

#include "checks/common/resolve_step.hpp"
#include "checks/ice/ice_codec.hpp"
#include "checks/ice/ice_turn_probe.hpp"
#include "probe/check.hpp"

namespace callready::checks {

struct IceParams {
  std::string host;  // the responder; empty: the scan's --responder
  std::optional<std::uint16_t> control_port;
  std::string stun;  // "host:port", may be empty
  std::string turn;  // "host:port", may be empty
  std::string turn_username, turn_password;
  std::string turn_transport = "udp";  // udp, tcp, tls
  bool relay_only = false;
  bool ice_tcp = false;  // TCP candidates (RFC 6544) besides UDP
  int gather_cap_ms = 3000;
  int connect_timeout_ms = 5000;

  static IceParams parse(ParamReader& r);
  std::string target() const;
};

struct IceResult {
  std::string responder;                      // the host asked
  std::optional<TargetAddresses> unresolved;  // the responder's name did not resolve
  std::string stun, turn;
  std::string turn_transport = "udp";
  std::string turn_username;
  std::optional<TargetAddresses> stun_unresolved, turn_unresolved;
  bool relay_only = false, ice_tcp = false;
  int gather_cap_ms = 0;

  std::map<std::string, int> candidates;         // local, by type
  std::map<std::string, int> remote_candidates;  // the responder's, by type
  bool gathering_complete = false;
  std::optional<double> gathering_ms;
  bool exchanged = false;      // the responder answered with its description
  bool checks_failed = false;  // libnice ended the checks without a pair
  std::optional<ice::Candidate> selected_local, selected_remote;
  std::optional<double> connected_ms;  // from setting the remote description
  std::optional<double> rtt_ms;        // median of the echoed probes
  int probes_sent = 0, probes_echoed = 0;
  ice::TurnProbe turn_probe;

  bool connected() const { return selected_local.has_value() && selected_remote.has_value(); }
  bool relay_required() const;
};

void to_json(nlohmann::json& j, const IceResult& r);
Judgement judge_ice(const IceResult& r, const IceParams& p);
boost::asio::awaitable<Measured<IceResult>> measure_ice(IceParams p, CheckContext& ctx);
view::View ice_view(const nlohmann::json& details);
metrics::Samples ice_metrics(const nlohmann::json& details);

CheckKind ice_check_kind();

}  // namespace callready::checks
