// `proxy`: see proxy_check.hpp. The measurement runs every step and decides
// nothing; proxy_judge.cpp reads the result.
#include "checks/proxy/proxy_check.hpp"

#include <fmt/format.h>

#include <fstream>
#include <random>
#include <sstream>

#include "checks/common/http_proxy.hpp"
#include "checks/common/responder_step.hpp"
#include "checks/proxy/proxy_exchange.hpp"
#include "checks/proxy/proxy_result.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"

namespace callready::checks {
namespace proxy {

Params Params::parse(ParamReader& r) {
  Params p;
  p.host = r.string("host");
  p.http_port = r.port_or("http_port", 80);
  p.https_port = r.port_or("https_port", 443);
  p.targets = r.string_list_or("targets");
  for (std::size_t i = 0; i < p.targets.size(); ++i)
    if (!net::parse_host_port(p.targets[i])) r.error(fmt::format("targets[{}]", i), "expected HOST[:PORT]");
  if (auto pin = r.opt_string("pin_sha256"); pin && !pin->empty()) {
    p.pin_sha256 = normalise_pin(*pin);
    if (p.pin_sha256.empty()) r.error("pin_sha256", "expected 64 hex digits or sha256/BASE64");
  }
  p.expected_issuers = r.string_list_or("expected_issuers");
  p.pac_url = r.string_or("pac_url", "");
  p.wpad = r.boolean_or("wpad", false) || !p.pac_url.empty();
  p.proxy = r.opt_string("proxy");
  p.timeout_ms = r.integer_or("step_timeout_ms", 100, 60000, 4000);
  return p;
}

std::string Params::target() const { return fmt::format("{}:{},{}", host, http_port, https_port); }

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string nonce() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The first address of `host`, or the resolver's words.
asio::awaitable<std::optional<asio::ip::address>> first_address(CheckContext& ctx, const std::string& host,
                                                                std::string& why) {
  auto lookup = co_await ctx.resolver.lookup_host(host, ctx.budget(Millis(3000)));
  if (lookup.addresses.empty()) {
    why = fmt::format("{} could not be resolved ({}{})", host, net::to_string(lookup.failure),
                      lookup.message.empty() ? "" : ": " + lookup.message);
    co_return std::nullopt;
  }
  co_return lookup.addresses.front();
}

// A socket to `host:port`: direct, or a CONNECT tunnel through `proxy`.
struct Path : PathStep {
  Socket socket;
  bool local = false;  // this machine's fault
};

asio::awaitable<Path> open_path(CheckContext& ctx, std::optional<asio::ip::address> direct, std::string host,
                                std::uint16_t port, std::optional<http_proxy::Url> proxy, Millis limit) {
  Path path;
  if (!proxy) {
    if (!direct) {
      std::string why;
      auto resolving = first_address(ctx, host, why);
      direct = co_await std::move(resolving);
      if (!direct) {
        path.outcome = StepOutcome::failed;
        path.operation = Operation::resolve;
        path.message = why;
        co_return path;
      }
    }
    auto connecting = connect_within(tcp::endpoint(*direct, port), limit);
    auto c = co_await std::move(connecting);
    path.socket = std::move(c.socket);
    path.outcome = c.outcome;
    path.operation = path.socket ? Operation::none : Operation::connect;
    path.message = c.message;
    path.local = c.local;
    co_return path;
  }
  std::string why;
  auto resolving = first_address(ctx, proxy->host, why);
  auto proxy_address = co_await std::move(resolving);
  if (!proxy_address) {
    path.outcome = StepOutcome::failed;
    path.operation = Operation::resolve;
    path.message = "the proxy " + why;
    co_return path;
  }
  tcp::endpoint proxy_ep(*proxy_address, proxy->port);
  auto tunnelling = http_proxy::open_tunnel(proxy_ep, *proxy, host, port, limit);
  auto t = co_await std::move(tunnelling);
  path.connect_status = t.status;
  path.auth_scheme = t.auth_scheme;
  path.sent_credentials = t.sent_credentials;
  path.message = t.message;
  if (t.failure == http_proxy::TunnelFailure::none) {
    path.outcome = StepOutcome::ok;
    path.socket = std::move(t.socket);
    co_return path;
  }
  path.operation = t.operation;
  path.local = t.failure == http_proxy::TunnelFailure::connect && t.net == net::NetFailure::local;
  path.outcome = t.failure == http_proxy::TunnelFailure::connect && t.net == net::NetFailure::refused
                     ? StepOutcome::refused
                 : t.failure == http_proxy::TunnelFailure::timeout ? StepOutcome::no_answer
                                                                   : StepOutcome::tunnel_failed;
  co_return path;
}

http_proxy::ProxyChoice choose(const Params& p, const std::string& host, std::uint16_t port,
                               const http_proxy::ProxyEnvironment& env) {
  http_proxy::Url url;
  url.scheme = "https";
  url.host = host;
  url.port = port;
  return http_proxy::choose_proxy(url, p.proxy, env);
}

// The echo over `path`; the path's failure when it has no socket.
asio::awaitable<EchoExchange> echo_over(Path path, std::string scheme, std::uint16_t port, std::string via,
                                        std::string host, Millis limit) {
  EchoExchange e;
  e.scheme = std::move(scheme);
  e.port = port;
  e.via = std::move(via);
  e.sent =
      echo_request_head(port == (e.scheme == "https" ? 443 : 80) ? host : net::format_host_port(host, port), nonce());
  static_cast<PathStep&>(e) = path;
  if (!path.socket) co_return e;
  auto exchanging = echo_exchange(std::move(path.socket), is_ip(host) ? "" : host, e, limit);
  co_await std::move(exchanging);
  co_return e;
}

// WPAD (RFC draft-ietf-wrec-wpad-01, DNS method): wpad.<suffix>/wpad.dat for
// each suffix of the search domains, longest first.
std::vector<std::string> wpad_urls() {
  std::ifstream conf("/etc/resolv.conf");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(conf, line)) {
    std::istringstream words(line);
    std::string key, domain;
    words >> key;
    if (key != "search" && key != "domain") continue;
    while (words >> domain) {
      while (std::count(domain.begin(), domain.end(), '.') >= 1 && out.size() < 4) {
        auto url = "http://wpad." + domain + "/wpad.dat";
        if (std::find(out.begin(), out.end(), url) == out.end()) out.push_back(url);
        domain = domain.substr(domain.find('.') + 1);
      }
    }
  }
  return out;
}

asio::awaitable<void> look_for_pac(CheckContext& ctx, const Params& p, Result& r) {
  auto urls = p.pac_url.empty() ? wpad_urls() : std::vector<std::string>{p.pac_url};
  for (const auto& text : urls) {
    PacFetch f;
    f.url = text;
    std::string error;
    auto url = http_proxy::parse_url(text, error);
    if (!url || url->scheme != "http") {
      f.message = url ? "only http:// PAC URLs are fetched" : error;
      r.pac.push_back(std::move(f));
      continue;
    }
    auto resolving = first_address(ctx, url->host, f.message);
    auto address = co_await std::move(resolving);
    if (address) {
      auto fetching = fetch_pac(tcp::endpoint(*address, url->port), url->authority(), url->target, f,
                                ctx.budget(Millis(p.timeout_ms)));
      co_await std::move(fetching);
    }
    bool found = f.outcome == StepOutcome::ok;
    r.pac.push_back(std::move(f));
    if (found) break;
  }
}

asio::awaitable<TargetProbe> probe_target(CheckContext& ctx, const Params& p, std::string target,
                                          const http_proxy::ProxyEnvironment& env) {
  TargetProbe t;
  t.target = target;
  auto hp = *net::parse_host_port(target);
  std::uint16_t port = hp.port.value_or(443);
  auto choice = choose(p, hp.host, port, env);
  t.via = choice.proxy ? choice.proxy->redacted() : "direct";
  auto opening = open_path(ctx, std::nullopt, hp.host, port, choice.proxy, ctx.budget(Millis(p.timeout_ms)));
  auto path = co_await std::move(opening);
  static_cast<PathStep&>(t) = path;
  if (!path.socket) co_return t;
  auto reading = read_chain(std::move(path.socket), is_ip(hp.host) ? "" : hp.host, t, ctx.budget(Millis(p.timeout_ms)));
  co_await std::move(reading);
  if (!p.expected_issuers.empty() && !t.chain.empty())
    t.expected_issuer = chain_has_issuer(t.chain, p.expected_issuers);
  co_return t;
}

// The HTTPS echo's pin, asked over the responder's control channel ("" when
// the responder cannot say: an older responder, no TLS echo).
asio::awaitable<std::string> pin_from_control(CheckContext& ctx, asio::ip::address remote) {
  tcp::endpoint control(remote, ctx.responder.default_control_port());
  nlohmann::json request = {{"op", "pin"}};
  auto asking = net::ask_service(ctx.executor, control, ctx.settings.token, "https_echo", std::move(request),
                                 ctx.budget(Millis(3000)));
  auto answer = co_await std::move(asking);
  if (!answer.ok() || !answer.reply.is_object()) co_return std::string();
  co_return normalise_pin(answer.reply.value("pin_sha256", ""));
}

asio::awaitable<Measured<Result>> measure(Params p, CheckContext& ctx) {
  Measured<Result> m;
  Result& r = m.result;
  r.host = p.host;
  auto asking = resolve_and_ask(ctx, p.host);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    r.unresolved = std::move(step.lookup);
    co_return m;
  }
  auto remote = step.address();
  r.address = remote.to_string();
  for (auto [service, port] : {std::pair{"http_echo", p.http_port}, std::pair{"https_echo", p.https_port}})
    if (auto setup = net::setup_error(step.info, service, port)) {
      m.error = std::move(setup);
      co_return m;
    }
  if (step.info.observed.port() != 0) r.observed = step.info.observed.address().to_string();

  auto env = http_proxy::ProxyEnvironment::from_process();
  auto choice = choose(p, p.host, p.https_port, env);
  r.proxy_source = choice.source;
  r.proxy_exempted_by = choice.exempted_by;
  r.proxy_error = choice.error;
  if (choice.proxy) r.explicit_proxy = choice.proxy->redacted();

  // 1. Plain HTTP, direct: what a transparent proxy does. It also tells the
  //    HTTPS echo's key, over a path TLS inspection does not touch.
  Millis limit(p.timeout_ms);
  auto opening_plain = open_path(ctx, remote, p.host, p.http_port, std::nullopt, ctx.budget(limit));
  auto plain_path = co_await std::move(opening_plain);
  bool local = plain_path.local;
  auto plain = echo_over(std::move(plain_path), "http", p.http_port, "direct", p.host, ctx.budget(limit));
  r.exchanges.push_back(co_await std::move(plain));
  const auto& first = r.exchanges.front();
  std::string learned;
  if (p.pin_sha256.empty()) {
    auto asking_pin = pin_from_control(ctx, remote);
    learned = co_await std::move(asking_pin);
  }
  if (!p.pin_sha256.empty()) {
    r.pin = p.pin_sha256;
    r.pin_source = "params";
  } else if (!learned.empty()) {
    r.pin = learned;
    r.pin_source = "control";
  } else if (first.echo && !first.echo->tls_pin.empty()) {
    r.pin = first.echo->tls_pin;
    r.pin_source = "http_echo";
  }
  // 2. TLS, direct, then 3. through the explicit proxy's tunnel.
  auto opening_tls = open_path(ctx, remote, p.host, p.https_port, std::nullopt, ctx.budget(limit));
  auto tls_path = co_await std::move(opening_tls);
  local = local || tls_path.local;
  auto tls = echo_over(std::move(tls_path), "https", p.https_port, "direct", p.host, ctx.budget(limit));
  r.exchanges.push_back(co_await std::move(tls));
  if (choice.proxy) {
    auto opening_tunnel = open_path(ctx, remote, p.host, p.https_port, choice.proxy, ctx.budget(limit));
    auto tunnel = co_await std::move(opening_tunnel);
    auto tunnelled =
        echo_over(std::move(tunnel), "https", p.https_port, choice.proxy->redacted(), p.host, ctx.budget(limit));
    r.exchanges.push_back(co_await std::move(tunnelled));
  }
  // 4. The targets, through whichever proxy applies to each.
  for (const auto& target : p.targets) {
    auto probing = probe_target(ctx, p, target, env);
    r.targets.push_back(co_await std::move(probing));
    if (!r.explicit_proxy && r.targets.back().via != "direct") r.explicit_proxy = r.targets.back().via;
  }
  if (p.wpad) {
    auto looking = look_for_pac(ctx, p, r);
    co_await std::move(looking);
  }
  if (local) m.error = CheckError{ErrorReason::local, Operation::connect, "this machine could not open a connection"};
  co_return m;
}

}  // namespace
}  // namespace proxy

CheckKind proxy_check_kind() {
  return make_check_kind<proxy::Params, proxy::Result>("proxy", Millis(30000),
                                                       {&proxy::measure, &proxy::judge, &proxy_view, &proxy_metrics});
}

}  // namespace callready::checks
