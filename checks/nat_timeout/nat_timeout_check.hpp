#pragma once
// `nat_timeout`: how long the NAT / stateful firewall between the site and
// the responder keeps an idle UDP binding and an idle TCP connection. Binding
// i is opened, warmed up (call-like: exchanges both ways for more than 2 s;
// or a single exchange, like a REGISTER), left idle for rung i of a ladder,
// and tested exactly once: the responder sends its deferred reply at that
// time, to the mapped address the request came from. All rungs run at once,
// so the whole check takes about the longest rung. A canary binding that the
// client keeps alive asks for the same deferred replies once every rung has
// asked: a rung counts only when the canary's reply of the same delay (due no
// earlier than the rung's) arrived, so a responder that restarted or dropped
// its timers is a set-up error, never an "expired".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "checks/nat_timeout/nat_timeout_ladder.hpp"
#include "probe/check.hpp"

namespace callready::checks {

struct NatTimeoutParams {
  std::string host;
  int max_s = 150;                 // longest idle time to try
  bool udp = true, tcp = true;     // protocols
  std::vector<int> ladder;         // idle times to try (default: nat_timeout::default_ladder())
  std::uint16_t udp_port = 19560;  // a port of the responder's --udp-ports
  std::uint16_t tcp_port = 8443;   // a port of the responder's --tcp-ports
  int udp_min_s = 120;             // RFC 4787 REQ-5
  int tcp_min_s = 1800;
  long long warmup_ms = 2500;                 // call-like warm-up: exchanges over this long (> 2 s)
  long long reply_wait_ms = 2000;             // how late after its rung a deferred reply may still arrive
  std::optional<std::uint16_t> control_port;  // default: the port of --responder

  static NatTimeoutParams parse(ParamReader& r);
  std::string target() const;  // "host udp/19560 tcp/8443"
};

// One protocol's measurement (UDP call-like, UDP single exchange, or TCP).
struct NatTimeoutProtocol {
  std::uint16_t port = 0;
  nat_timeout::Lifetime lifetime;
};

struct NatTimeoutResult {
  std::string host;
  std::optional<checks::TargetAddresses> unresolved;  // the lookup, when the host did not resolve
  std::optional<std::string> address;
  int max_s_requested = 0;
  int udp_min_s = 120, tcp_min_s = 1800;  // the lines judged against, kept for the view
  std::optional<NatTimeoutProtocol> udp, udp_single, tcp;
  std::optional<std::string> mapped_udp;  // the client's UDP address as the responder saw it
};

// The details: host, address, `udp`, `udp_single` and `tcp` (each
// {lifetime_min_s, lifetime_max_s (null when none expired), max_s, port,
// unreachable (when the path carried nothing), rungs [{idle_s, outcome, after}]}),
// max_s_requested, thresholds {udp_min_s, tcp_min_s}, mapped_udp.
void to_json(nlohmann::json& j, const NatTimeoutResult& r);

// Findings (code, severity, operation):
//   nat_timeout.no_address        critical  resolve
//   nat_timeout.udp_short         critical  receive  (call-like UDP binding expired below udp_min_s)
//   nat_timeout.udp_single_short  critical  receive  (single-exchange UDP binding expired below udp_min_s)
//   nat_timeout.tcp_short         critical  receive  (idle TCP connection lost below tcp_min_s)
//   nat_timeout.udp_unproven      info      none     (nothing expired, but max_s < udp_min_s)
//   nat_timeout.tcp_unproven      info      none     (nothing expired, but max_s < tcp_min_s: how to run the long test)
//   nat_timeout.inconsistent      warning   receive  (a longer idle time reached the client after a shorter one did
//   not) nat_timeout.unreachable       warning   receive/connect (the protocol carried nothing: nothing measured)
Judgement judge_nat_timeout(const NatTimeoutResult& r, const NatTimeoutParams& p);

// One row per protocol and rung: reached / expired, with the lifetime bounds.
view::View nat_timeout_view(const nlohmann::json& details);

CheckKind nat_timeout_check_kind();

}  // namespace callready::checks
