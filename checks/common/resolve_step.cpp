#include "checks/common/resolve_step.hpp"

#include <fmt/format.h>

namespace callready::checks {

boost::asio::awaitable<TargetAddresses> resolve_target(CheckContext& ctx, const std::string& host) {
  auto lookup = co_await ctx.resolver.lookup_host(host, ctx.budget(Millis(4000)));
  TargetAddresses t;
  t.host = host;
  t.addresses = std::move(lookup.addresses);
  if (t.addresses.empty()) {
    // A lookup without addresses always failed somehow, even if the resolver said "none".
    t.failure = lookup.failure == net::DnsFailure::none ? net::DnsFailure::no_data : lookup.failure;
    t.message = std::move(lookup.message);
  }
  co_return t;
}

Finding unresolved_finding(const std::string& kind, const TargetAddresses& target, const std::string& purpose,
                           Severity severity) {
  Finding f;
  f.severity = severity;
  f.code = kind + ".no_address";
  f.message = fmt::format("Cannot {}: {} could not be resolved ({}{})", purpose, target.host, to_string(target.failure),
                          target.message.empty() ? "" : ": " + target.message);
  f.remediation = fmt::format(
      "Check that {} is the right name and that DNS works on this network (resolver reachable, UDP and TCP 53 "
      "allowed)",
      target.host);
  f.operation = Operation::resolve;
  return f;
}

}  // namespace callready::checks
