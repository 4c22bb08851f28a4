#include "probe/net/target.hpp"

#include <fmt/format.h>

namespace callready::net {

boost::asio::awaitable<TargetAddresses> resolve_target(CheckContext& ctx, const std::string& host) {
  auto lookup = co_await ctx.resolver.lookup_host(host, ctx.budget(Millis(4000)));
  TargetAddresses t;
  t.host = host;
  t.addresses = std::move(lookup.addresses);
  if (t.addresses.empty()) {
    // A lookup without addresses always failed somehow, even if the resolver said "none".
    t.failure = lookup.failure == DnsFailure::none ? DnsFailure::no_data : lookup.failure;
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

boost::asio::awaitable<ResolvedTarget> resolve_target(CheckContext& ctx, const std::string& kind,
                                                      const std::string& host, const std::string& purpose,
                                                      Severity severity) {
  auto t = co_await resolve_target(ctx, host);
  ResolvedTarget out;
  out.addresses = t.addresses;
  if (!t.resolved()) out.failure = unresolved_finding(kind, t, purpose, severity);
  co_return out;
}

}  // namespace callready::net
