#pragma once
// RFC 5780 NAT behaviour discovery: mapping (§4.3) and filtering (§4.4),
// each on its own UDP socket so that the mapping tests' outgoing packets do
// not open the pinholes the filtering tests look for. Only ever reports what
// the tests showed; anything it could not establish is unknown, with why.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <optional>
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
  // Silence was part of the verdict: how long it was waited out, and why.
  std::optional<net::SilenceWait> silence;
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
// likely result (filtering tests II and III, run at once): with an RTT to the
// server known (net::path_rtt: the check's first exchange and test I record
// theirs), max(4 x RTT, 250 ms) with sends at 0, 1/4 and 3/4 of it; with none,
// as turnutils_natdiscovery does, sends at 0, 500, 1500 ms, give up at
// 3500 ms. Never cut short by the deadline, or silence would mean nothing.
struct DiscoveryPlan {
  Retransmission expect_answer{Millis(500), 4, 4, Millis(5500)};
  Retransmission silence_likely{Millis(500), 3, 4, Millis(3500), true};
  // The scan's token when the server is our responder: every request is
  // authenticated and padded (RequestOptions::password). Empty: plain requests.
  std::string password;
};

// `primary`: the server address that answered; `other`: its OTHER-ADDRESS.
// Tests run from fresh sockets on `local`; every exchange is bounded by
// `deadline`. The mapping and the filtering tests use sockets of their own
// and run concurrently, as do the two filtering probes' test I.
boost::asio::awaitable<NatBehaviour> discover(boost::asio::ip::address local, Endpoint primary, Endpoint other,
                                              Clock::time_point deadline, DiscoveryPlan plan = {});

}  // namespace callready::checks::stun
