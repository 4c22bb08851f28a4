#pragma once
// RFC 5780 NAT behaviour discovery: mapping (§4.3) and filtering (§4.4),
// each on its own UDP socket so that the mapping tests' outgoing packets do
// not open the pinholes the filtering tests look for. Only ever reports what
// the tests showed; anything it could not establish is unknown, with why.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <string>

#include "checks/stun/stun_client.hpp"
#include "checks/stun/stun_codec.hpp"
#include "probe/clock.hpp"

namespace callready::checks::stun {

// RFC 4787 / RFC 5780 names.
enum class Behaviour { unknown, endpoint_independent, address_dependent, address_and_port_dependent };
const char* to_string(Behaviour);  // "endpoint-independent", ...; "unknown"

struct BehaviourTest {
  Behaviour behaviour = Behaviour::unknown;
  std::string unknown_because;  // when unknown: why
  std::string evidence;         // what the tests saw
  // "endpoint-independent", ... or "unknown: <why>"
  std::string text() const;
};

struct NatBehaviour {
  BehaviourTest mapping;
  BehaviourTest filtering;
};

// The waits of the tests. An answer is expected (mapping tests, test I of the
// filtering sockets): a few retransmissions against loss, sends at 0, 500,
// 1500, 3500 ms, give up at 5500 ms (never past the deadline). Silence is a
// likely result (filtering tests II and III, run at once): by default as
// turnutils_natdiscovery does, sends at 0, 500, 1500 ms, give up at 3500 ms,
// and never cut short by the deadline, or silence would mean nothing.
struct DiscoveryPlan {
  Retransmission expect_answer{Millis(500), 4, 4, Millis(5500)};
  Retransmission silence_likely{Millis(500), 3, 4, Millis(3500)};
  // The scan's token when the server is our responder: every request is
  // authenticated and padded (RequestOptions::password). Empty: plain requests.
  std::string password;
};

// The plan for a path whose RTT was just measured (the first Binding
// exchange): silence is decided after 4 RTOs of max(RTT, 63 ms), about
// max(4 × RTT, 250 ms), with sends at 0, 1 and 3 RTOs, instead of a schedule
// meant for a path nothing is known about. An answer that is allowed through
// comes back within one RTT; the retransmissions cover a lost packet.
DiscoveryPlan discovery_plan_for_rtt(double rtt_ms);

// `primary`: the server address that answered; `other`: its OTHER-ADDRESS.
// Tests run from fresh sockets on `local`; every exchange is bounded by
// `deadline`. The mapping and the filtering tests use sockets of their own
// and run concurrently, as do the two filtering probes' test I.
boost::asio::awaitable<NatBehaviour> discover(boost::asio::ip::address local, Endpoint primary, Endpoint other,
                                              Clock::time_point deadline, DiscoveryPlan plan = {});

}  // namespace callready::checks::stun
