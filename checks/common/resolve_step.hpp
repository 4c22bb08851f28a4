#pragma once
// The first step of every check that talks to a host: resolve it. The
// measurement keeps what happened as data (TargetAddresses); the judge turns
// an unresolved target into the one finding every kind reports the same way
// (code "<kind>.no_address", operation `resolve`, the DNS fix as remediation;
// scoring keeps that remediation even when the rule has its own, because the
// requirement itself was never tested).
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

// The finding for a target that did not resolve. `purpose` completes
// "Cannot <purpose>", e.g. "reach the STUN server 203.0.113.10:3478".
Finding unresolved_finding(const std::string& kind, const TargetAddresses& target, const std::string& purpose,
                           Severity severity = Severity::critical);

}  // namespace callready::checks
