#pragma once
// `dscp`: is the DSCP marking of each traffic class preserved on the way to
// the responder (upstream) and back (downstream)?
//
// Per class and family the check sends marked echo probes (v2, asking the
// responder to mark its reply with the same class) over the class's 5-tuple
// shape: UDP from a source port range to a port, or TCP (the TOS set before
// connect(), so the SYN is marked too). Upstream it counts the DSCP each probe
// arrived with (the responder's observation; over TCP the SYN of each
// connection); downstream the DSCP each reply arrived with. ECN bits are
// counted apart and never make a class re-marked.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"

namespace callready::checks {

// A class name (EF, AFxy, CSn, DF, VA, LE) or a number 0-63 as its DSCP; nullopt when neither.
std::optional<int> dscp_of_class(const std::string& name);
// The standard name of a DSCP value (46 -> "EF", 0 -> "CS0"), else the number as text.
std::string dscp_class_name(long long value);

// How one class travels: transport, destination port and optional source ports.
struct DscpShape {
  std::string transport = "udp";  // udp | tcp
  std::uint16_t port = 0;
  std::optional<net::PortRange> source_ports;  // bind a source port in this range (first free)
};

struct DscpClassParam {
  std::string name;  // as written (upper-cased for names)
  int dscp = 0;
  DscpShape shape;
};

struct DscpParams {
  std::string host;
  std::vector<DscpClassParam> classes;
  std::string family = "both";  // ipv4 | ipv6 | both (both: IPv6 only when the host has an address)
  int packets = 50;             // per class, family and direction
  int tcp_connections = 10;     // per TCP class and family: each SYN is an upstream sample
  // What a re-marked or bleached class (DSCP > 0) costs: warning by default
  // (calls still work without QoS on an idle link); a profile may raise it.
  Severity remark_severity = Severity::warning;
  std::optional<std::uint16_t> control_port;

  static DscpParams parse(ParamReader& r);
  std::string target() const;
};

enum class DscpVerdict { preserved, remarked, bleached, unknown };
const char* to_string(DscpVerdict);

// What arrived in one direction.
struct DscpDirection {
  std::map<int, int> received;  // DSCP value -> packets
  int ecn_changed = 0;          // packets whose ECN bits differ from what was sent
  std::string unreadable;       // why the marking could not be read (then unknown); empty when it could
  int total() const;
};

// preserved: every packet kept `sent`; bleached: every packet 0 (sent > 0);
// remarked: anything else (also partly); unknown: nothing to read.
DscpVerdict dscp_verdict(const DscpDirection& d, int sent);
// Percent of the packets that arrived with another DSCP than `sent`.
double remarked_pct(const DscpDirection& d, int sent);

struct DscpClassResult {
  std::string name;
  int dscp = 0;
  std::string transport;
  std::string family;  // ipv4 | ipv6
  std::string address;
  std::uint16_t port = 0;
  std::optional<std::uint16_t> source_port;  // the first one used
  int probes_sent = 0;
  int replies = 0;
  std::string failure;  // when no reply came: what happened (connect refused, timeout, ICMP ...)
  Operation failure_operation = Operation::none;
  DscpDirection upstream, downstream;
};

struct DscpResult {
  std::string host;
  std::optional<TargetAddresses> unresolved;
  std::vector<std::string> skipped;  // "ipv6: the host has no IPv6 address"
  // A family the responder could not be asked over, and why ("ipv6: control:
  // connect ... refused ..."): in the details' skipped too, and the summary.
  std::vector<std::string> not_asked;
  std::vector<DscpClassResult> classes;
};

// The details: host, classes [{name, dscp, transport, family, address, port,
// source_port, probes_sent, replies, upstream and downstream {verdict,
// received {"<dscp>": packets}, ecn_changed (bool), remarked_pct,
// unreadable (when unknown for that reason)}, failure}], skipped.
void to_json(nlohmann::json& j, const DscpResult& r);

// Findings (code, severity, operation), one per class, family and direction:
//   dscp.no_address    warning        resolve
//   dscp.no_reply      warning        the failed step (connect/receive), inconclusive
//   dscp.bleached      remark_severity (warning by default)  none
//   dscp.remarked      remark_severity (info for a class sent as 0)  none, with the values and the fraction
//   dscp.unreadable    info           receive, inconclusive (the local system cannot read that TOS)
//   dscp.ecn_changed   info           none (ECN bits changed; not a re-marking)
Judgement judge_dscp(const DscpResult& r, const DscpParams& p);

// A class x direction matrix (one row per class and family).
view::View dscp_view(const nlohmann::json& details);

CheckKind dscp_check_kind();

}  // namespace callready::checks
