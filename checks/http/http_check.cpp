#include "checks/http/http_check.hpp"

#include <fmt/format.h>

#include "probe/net/async.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace http {

HttpParams HttpParams::parse(ParamReader& r) {
  HttpParams p;
  p.url = r.string("url");
  std::string error;
  if (auto u = http_proxy::parse_url(p.url, error)) {
    p.parsed = *u;
  } else if (!p.url.empty()) {
    r.error("url", error);
  }
  p.method = r.choice("method", {"GET", "HEAD"}, "GET");
  p.max_ttfb_ms = r.integer_or("max_ttfb_ms", 1, 60000, 2000);
  p.allow_redirect = r.boolean_or("allow_redirect", false);
  p.ca_file = r.string_or("ca_file", "");
  p.tries = static_cast<int>(r.integer_or("tries", 1, 10, 3));
  p.proxy = r.opt_string("proxy");
  if (p.proxy && *p.proxy != "direct" && !p.proxy->empty() && !http_proxy::parse_url(*p.proxy, error, "http"))
    r.error("proxy", error);
  p.answer_timeout_ms = r.integer_or("answer_timeout_ms", 100, 60000, std::max<long long>(5000, p.max_ttfb_ms * 2));
  p.max_clock_offset_s = r.integer_or("max_clock_offset_s", 1, 86400, 3);
  p.require_client_cert = r.boolean_or("require_client_cert", false);
  return p;
}

std::string HttpParams::target() const { return parsed.host.empty() ? url : parsed.redacted(); }

namespace {

// Up to `tries` attempts at one address, stopping at the first a client would accept.
asio::awaitable<HttpAddress> try_address(AttemptPlan plan, CheckContext& ctx) {
  HttpAddress out;
  out.address = plan.address;
  for (int i = 0; i < plan.params.tries; ++i) {
    if (i > 0 && ctx.remaining() < Millis(500)) break;  // leave the rest of the time to the report
    auto attempting = run_attempt(plan, ctx);
    out.attempts.push_back(co_await std::move(attempting));
    if (!attempt_failed(out.attempts.back(), plan.params.max_ttfb_ms)) break;
    if (out.attempts.back().failure == AttemptFailure::local) break;
  }
  co_return out;
}

asio::awaitable<Measured<HttpResult>> measure_http(HttpParams p, CheckContext& ctx) {
  Measured<HttpResult> m;
  m.result.url = p.target();
  m.result.method = p.method;
  m.result.max_ttfb_ms = p.max_ttfb_ms;

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

  auto resolving = checks::resolve_target(ctx, p.parsed.host);
  m.result.resolved = co_await std::move(resolving);
  std::vector<std::string> addresses;
  for (const auto& a : m.result.resolved.addresses) addresses.push_back(a.to_string());
  // Behind a proxy only the proxy may be able to resolve the name: ask it for the name itself.
  if (addresses.empty() && choice.proxy) addresses.push_back(p.parsed.host);
  if (addresses.empty()) co_return m;

  std::vector<asio::awaitable<HttpAddress>> tasks;
  for (const auto& address : addresses) {
    AttemptPlan plan{p, address, choice.proxy, proxy_endpoint, tls};
    tasks.push_back(try_address(std::move(plan), ctx));
  }
  auto gathering = net::gather(std::move(tasks));
  m.result.addresses = co_await std::move(gathering);

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
