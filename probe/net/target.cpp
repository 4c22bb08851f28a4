#include "probe/net/target.hpp"

#include <fmt/format.h>

#include "probe/net/resolver.hpp"

namespace callready::net {

boost::asio::awaitable<ResolvedTarget> resolve_target(CheckContext& ctx, const std::string& kind,
                                                      const std::string& host, const std::string& purpose,
                                                      Severity severity) {
  auto lookup = co_await ctx.resolver.lookup_host(host, ctx.budget(Millis(4000)));
  ResolvedTarget t;
  t.addresses = std::move(lookup.addresses);
  if (t.addresses.empty()) {
    t.failure = Finding{severity, kind + ".no_address",
                        fmt::format("Cannot {}: {} could not be resolved ({}{})", purpose, host, to_string(lookup.failure),
                                    lookup.message.empty() ? "" : ": " + lookup.message),
                        fmt::format("Check that {} is the right name and that DNS works on this network (resolver "
                                    "reachable, UDP and TCP 53 allowed)",
                                    host),
                        ""};
  }
  co_return t;
}

}  // namespace callready::net
