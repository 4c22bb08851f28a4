#pragma once
// The `sip_alg` kind's data: its params, what one measurement holds (every
// request sent, over which transport and from which source port, what came
// back), and the pure verdict over it. No sockets here: the judge tests build
// results by hand (tests/unit/sip_alg_judge_test.cpp).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "checks/sip_alg/sip_alg_probe.hpp"
#include "probe/check.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/path_rtt.hpp"

namespace callready::checks::sip_alg {

struct Params {
  std::string host;
  std::uint16_t port = 5060;
  std::string transport = "udp";     // udp | tcp | both
  std::uint16_t source_port = 5060;  // also try from this port; 0 = ephemeral only
  std::vector<std::string> methods{"INVITE", "REGISTER"};
  long long timeout_ms = 1500;  // per request

  static Params parse(ParamReader& r);
  std::string target() const;  // "host:5060/udp"
};

// How one request ended.
enum class Outcome {
  mirrored,          // answered, with the request as the responder received it
  no_mirror,         // answered without the copy (it would have exceeded the size bound)
  no_response,       // nothing came back in time: dropped on the way
  refused,           // ICMP port unreachable or a TCP reset on connect
  source_port_busy,  // the fixed source port is taken on this machine
  failed,            // another step failed; `failure` says which and why
};
const char* to_string(Outcome);

// The step of one exchange that failed and how the socket error was sorted.
struct StepFailure {
  Operation operation = Operation::none;
  net::NetFailure kind = net::NetFailure::other;
  std::string message;  // "connect 203.0.113.10:5060: Connection refused"
};

// One request sent and what came back.
struct Exchange {
  std::string transport;             // "udp" | "tcp"
  std::uint16_t requested_port = 0;  // source port asked for; 0 = ephemeral
  std::string local;                 // HOST:PORT the request was sent from
  std::string method;                // INVITE, REGISTER, OPTIONS
  Outcome outcome = Outcome::no_response;
  std::optional<StepFailure> failure;
  int status = 0;  // the response's status code
  double rtt_ms = 0;
  // Silence ended it (no response, or a TCP connect never answered): how long
  // it was waited out and why (details wait_ms, wait_basis, path_rtt_ms).
  std::optional<net::SilenceWait> silence;
  std::optional<Diff> diff;  // mirrored: every field as sent and as received
  // The source the responder saw (from the mirror).
  std::string observed_address;
  std::uint16_t observed_port = 0;
  // The response's top Via as it arrived here: ;received= and ;rport=.
  std::optional<std::string> response_received, response_rport;

  bool answered() const { return outcome == Outcome::mirrored || outcome == Outcome::no_mirror; }
  // "INVITE over udp from port 5060"
  std::string describe() const;
  // The responder wrote the source it saw into the response's Via; a
  // different value on arrival was rewritten on the way back.
  bool via_rewritten() const;
};

struct Result {
  std::string host;
  std::uint16_t port = 5060;
  std::string transport;
  std::string address;                                // the responder's address, once resolved
  std::optional<checks::TargetAddresses> unresolved;  // the host did not resolve, and why
  std::vector<Exchange> exchanges;                    // in the order sent: per transport, per source port, per method
};

// What the judge and the details both read from a result.
struct Analysis {
  std::vector<std::string> rewritten;           // fields changed on the way, first seen first
  std::vector<const Exchange*> via_rewritten;   // responses whose Via received=/rport= changed
  std::vector<const Exchange*> answered, lost;  // lost: no response at all
  const Exchange* shown = nullptr;              // the exchange the report shows field by field
  bool selective_drop = false;                  // some lost while others were answered
  bool detected = false;
};
Analysis analyse(const Result& r);

void to_json(nlohmann::json& j, const Result& r);

// Pure: findings and summary from the result alone.
Judgement judge(const Result& r, const Params& p);

}  // namespace callready::checks::sip_alg
