#include "checks/http/http_check.hpp"

#include <arpa/nameser.h>
#include <fmt/format.h>

#include <algorithm>

#include "probe/net/async.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace http {

namespace {

// Up to `tries` attempts at one address, stopping at the first a client would accept.
asio::awaitable<HttpAddress> try_address(AttemptPlan plan, CheckContext& ctx) {
  HttpAddress out;
  out.address = plan.address;
  for (int i = 0; i < plan.params.tries; ++i) {
    if (i > 0 && ctx.remaining() < Millis(500)) break;  // leave the rest of the time to the report
    auto attempting = run_attempt(plan, ctx);
    out.attempts.push_back(co_await std::move(attempting));
    if (!attempt_failed(out.attempts.back(), plan.params.max_ttfb_ms, plan.params.require_client_cert)) break;
    if (out.attempts.back().failure == AttemptFailure::local) break;
  }
  co_return out;
}

// Where to fetch: an address and the port to ask on (0: the URL's).
struct Destination {
  std::string address;
  unsigned short port = 0;
  std::string target;  // the SRV target it is behind
};

// The SRV name's records in RFC 2782 order (the dns kind's parser and order),
// each target resolved to its addresses.
asio::awaitable<SrvLookup> lookup_srv(const std::string& name, CheckContext& ctx) {
  SrvLookup out;
  out.name = name;
  auto querying = ctx.resolver.query(name, ns_t_srv, ctx.budget(Millis(4000)));
  auto answer = co_await std::move(querying);
  out.failure = answer.failure;
  out.message = answer.error;
  if (answer.failure != net::DnsFailure::none) co_return out;
  auto parsed = dns::parse_answers(answer.message, ns_t_srv);
  if (!parsed.error.empty()) {
    out.failure = net::DnsFailure::bad_response;
    out.message = parsed.error;
    co_return out;
  }
  for (auto& record : dns::order_srv(std::move(parsed.srv))) {
    SrvTargetAddresses t{record, {}};
    t.resolved.host = record.target;
    if (!record.target.empty() && record.target != ".") {  // "." : the service is not offered there
      auto resolving = checks::resolve_target(ctx, record.target);
      t.resolved = co_await std::move(resolving);
    }
    out.targets.push_back(std::move(t));
  }
  if (out.targets.empty()) out.failure = net::DnsFailure::no_data;
  co_return out;
}

// Every (address, port) behind the SRV targets, once each, in the order a client tries them.
std::vector<Destination> srv_destinations(const SrvLookup& srv, bool through_proxy) {
  std::vector<Destination> out;
  auto add = [&](const std::string& address, const dns::SrvRecord& r) {
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const Destination& d) { return d.address == address && d.port == r.port; });
    if (!seen) out.push_back({address, r.port, r.target});
  };
  for (const auto& t : srv.targets) {
    if (t.record.target.empty() || t.record.target == ".") continue;
    for (const auto& a : t.resolved.addresses) add(a.to_string(), t.record);
    // Behind a proxy only the proxy may be able to resolve the target: ask it for the name.
    if (t.resolved.addresses.empty() && through_proxy) add(t.record.target, t.record);
  }
  return out;
}

asio::awaitable<Measured<HttpResult>> measure_http(HttpParams p, CheckContext& ctx) {
  Measured<HttpResult> m;
  m.result.url = p.target();
  m.result.method = p.method;
  m.result.max_ttfb_ms = p.max_ttfb_ms;
  m.result.require_client_cert = p.require_client_cert;

  auto choice = http_proxy::choose_proxy(p.parsed, p.proxy, http_proxy::ProxyEnvironment::from_process());
  if (!choice.error.empty()) {
    m.error = CheckError{p.proxy ? ErrorReason::bad_params : ErrorReason::local, Operation::none, choice.error};
    co_return m;
  }
  m.result.proxy_exempted_by = choice.exempted_by;
  std::optional<asio::ip::tcp::endpoint> proxy_endpoint;
  if (choice.proxy) {
    m.result.proxy = choice.proxy->redacted();
    m.result.proxy_source = choice.source;
    auto resolving_proxy = checks::resolve_target(ctx, choice.proxy->host);
    auto proxy_addresses = co_await std::move(resolving_proxy);
    if (!proxy_addresses.resolved()) {
      m.error = CheckError{ErrorReason::dependency, Operation::resolve,
                           fmt::format("the proxy {} ({}) does not resolve: {}", choice.proxy->host, choice.source,
                                       proxy_addresses.message),
                           checks::unresolved_cause(proxy_addresses)};
      co_return m;
    }
    proxy_endpoint.emplace(proxy_addresses.addresses.front(), choice.proxy->port);
  }

  std::shared_ptr<asio::ssl::context> tls;
  if (p.parsed.scheme == "https") {
    std::string error;
    tls = make_tls_context(p.ca_file, error);
    if (!tls) {
      m.error = CheckError{ErrorReason::bad_params, Operation::none, error};
      co_return m;
    }
  }

  std::vector<Destination> destinations;
  if (!p.srv.empty()) {
    auto looking_up = lookup_srv(p.srv, ctx);
    m.result.srv = co_await std::move(looking_up);
    destinations = srv_destinations(*m.result.srv, choice.proxy.has_value());
    // No usable target: clients fall back to the URL host's A/AAAA.
    m.result.srv->fallback = destinations.empty();
  }
  if (destinations.empty()) {
    auto resolving = checks::resolve_target(ctx, p.parsed.host);
    m.result.resolved = co_await std::move(resolving);
    for (const auto& a : m.result.resolved.addresses) destinations.push_back({a.to_string(), 0, ""});
    // Behind a proxy only the proxy may be able to resolve the name: ask it for the name itself.
    if (destinations.empty() && choice.proxy) destinations.push_back({p.parsed.host, 0, ""});
  } else {
    m.result.resolved.host = p.srv;
  }
  if (destinations.empty()) co_return m;

  std::vector<asio::awaitable<HttpAddress>> tasks;
  for (const auto& d : destinations) {
    AttemptPlan plan{p, d.address, d.port, choice.proxy, proxy_endpoint, tls};
    tasks.push_back(try_address(std::move(plan), ctx));
  }
  auto gathering = net::gather(std::move(tasks));
  m.result.addresses = co_await std::move(gathering);
  for (std::size_t i = 0; i < destinations.size(); ++i) {
    m.result.addresses[i].target = destinations[i].target;
    m.result.addresses[i].port = destinations[i].port;
  }

  // This machine could not try at all (no IPv6 route, out of descriptors): not the network.
  bool any_network = false;
  for (const auto& a : m.result.addresses)
    if (a.shown() && a.shown()->failure != AttemptFailure::local) any_network = true;
  if (!any_network)
    m.error = CheckError{ErrorReason::local, Operation::connect, m.result.addresses.front().shown()->message};
  co_return m;
}

}  // namespace
}  // namespace http

CheckKind http_check_kind() {
  return make_check_kind<http::HttpParams, http::HttpResult>(
      "http", Millis(30000),
      KindFunctions<http::HttpParams, http::HttpResult>{&http::measure_http, &http::judge_http, &http::http_view,
                                                        &http::http_metrics});
}

}  // namespace callready::checks
