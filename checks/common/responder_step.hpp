#pragma once
// The first steps of every cooperative check: resolve the responder's host,
// then ask the scan's responder (once per scan, shared) what it serves. The
// caller keeps an unresolved lookup as data for its judge, and turns the
// answer into a set-up error with net::setup_error.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"
#include "probe/net/responder_control.hpp"

namespace callready::checks {

struct ResponderStep {
  checks::TargetAddresses lookup;
  net::ResponderInfo info;  // asked only when the host resolved
  bool resolved() const { return lookup.resolved(); }
  const boost::asio::ip::address& address() const { return lookup.addresses.front(); }
};

// `control_port` and `token` default to the scan's (--responder, --token).
boost::asio::awaitable<ResponderStep> resolve_and_ask(CheckContext& ctx, const std::string& host,
                                                      std::optional<std::uint16_t> control_port = std::nullopt,
                                                      std::optional<std::string> token = std::nullopt);

}  // namespace callready::checks
