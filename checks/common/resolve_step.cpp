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

std::optional<Cause> dns_server_cause(net::DnsFailure failure) {
  using net::DnsFailure;
  // The same words for every name: one cause, however many names failed.
  switch (failure) {
    case DnsFailure::timeout:
    case DnsFailure::unreachable:
      return Cause{fmt::format("dns.{}", to_string(failure)),
                   "DNS does not work here (the DNS server this machine uses cannot be reached)"};
    case DnsFailure::refused:
      return Cause{"dns.refused", "DNS does not work here (the DNS server this machine uses refuses to answer)"};
    default:
      return std::nullopt;
  }
}

Cause unresolved_cause(const TargetAddresses& target) {
  using net::DnsFailure;
  const auto& host = target.host;
  if (auto server = dns_server_cause(target.failure)) return *server;
  switch (target.failure) {
    case DnsFailure::nxdomain:
      return {"dns.nxdomain", fmt::format("{} does not exist in DNS (NXDOMAIN)", host)};
    case DnsFailure::no_data:
      return {"dns.no_data", fmt::format("{} has no address in DNS (no A or AAAA record)", host)};
    case DnsFailure::servfail:
      return {"dns.servfail", fmt::format("The DNS server failed to look up {} (SERVFAIL)", host)};
    default:
      return {fmt::format("dns.{}", to_string(target.failure)), fmt::format("{} could not be resolved", host)};
  }
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
  f.inconclusive = true;  // the requirement itself was never tested
  f.cause = unresolved_cause(target);
  return f;
}

Judgement unresolved_judgement(const std::string& kind, const TargetAddresses& target, const std::string& purpose,
                               Severity severity) {
  auto f = unresolved_finding(kind, target, purpose, severity);
  return Judgement{f.message, {f}};
}

}  // namespace callready::checks
