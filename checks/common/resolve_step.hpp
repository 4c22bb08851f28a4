#pragma once
// The first step of every check that talks to a host: resolve it. The
// measurement keeps what happened as data (TargetAddresses); the judge turns
// an unresolved target into the one finding every kind reports the same way
// (code "<kind>.no_address", operation `resolve`, the DNS fix as remediation,
// inconclusive: the requirement itself was never tested). The finding names
// its Cause, so scoring makes the check an error with reason `dependency` and
// the report names the cause once, with every check it stopped.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probe/check.hpp"
#include "probe/net/resolver.hpp"

namespace callready::checks {

// What resolving a check's target gave.
struct TargetAddresses {
  std::string host;
  std::vector<boost::asio::ip::address> addresses;  // IPv4 first; empty when it did not resolve
  net::DnsFailure failure = net::DnsFailure::none;  // why not, when it did not
  std::string message;                              // the resolver's words, if any

  bool resolved() const { return !addresses.empty(); }
};

// A and AAAA of `host` (an IP literal comes back as is), within the check's budget.
boost::asio::awaitable<TargetAddresses> resolve_target(CheckContext& ctx, const std::string& host);

// When the DNS server itself failed (cannot be reached, timed out, refused):
// the cause every lookup shares, whichever name it was for. A check whose own
// test is a lookup names it too, so the report lists it under the same cause.
std::optional<Cause> dns_server_cause(net::DnsFailure failure);

// Why a target did not resolve, worded per cause: a DNS server that cannot
// be reached is one cause for every name ("dns.unreachable"); a name that
// does not exist is its own ("dns.nxdomain", naming it).
Cause unresolved_cause(const TargetAddresses& target);

// The finding for a target that did not resolve. `purpose` completes
// "Cannot <purpose>", e.g. "reach the STUN server 203.0.113.10:3478".
Finding unresolved_finding(const std::string& kind, const TargetAddresses& target, const std::string& purpose,
                           Severity severity = Severity::critical);

// A judgement that is only that finding, its message as the summary: what a
// check whose target did not resolve has to say.
Judgement unresolved_judgement(const std::string& kind, const TargetAddresses& target, const std::string& purpose,
                               Severity severity = Severity::critical);

}  // namespace callready::checks
