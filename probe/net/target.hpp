#pragma once
// The first step of every check that talks to a host: resolve it, and when
// that fails report it the same way everywhere (code "<kind>.no_address", the
// DNS fix as remediation; the engine keeps that remediation even when the
// rule has its own, because the requirement itself was never tested).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probe/check.hpp"

namespace callready::net {

struct ResolvedTarget {
  std::vector<boost::asio::ip::address> addresses;  // IPv4 first; empty on failure
  std::optional<Finding> failure;
};

// `purpose` completes "Cannot <purpose>", e.g. "reach the STUN server 203.0.113.10:3478".
boost::asio::awaitable<ResolvedTarget> resolve_target(CheckContext& ctx, const std::string& kind,
                                                      const std::string& host, const std::string& purpose,
                                                      Severity severity = Severity::critical);

}  // namespace callready::net
