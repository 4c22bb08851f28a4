#include "checks/media_path/media_path_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/common/http_proxy.hpp"
#include "checks/common/responder_step.hpp"
#include "checks/media_path/media_path_metrics.hpp"
#include "checks/media_path/media_path_steps.hpp"
#include "probe/net/async.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

// What each rung may wait at most; the check's budget may cut it shorter.
constexpr Millis kUdpWait{2000};  // probes resent at 0, 200, 600, 1400 ms
constexpr Millis kTcpWait{3000};  // connect and one framed echo
constexpr Millis kTlsWait{4000};  // connect, handshake and one framed echo
constexpr std::size_t kMaxUdpPorts = 16;

using media_path::Step;

// The services each rung needs from the responder; a missing one is a set-up error, not a finding.
std::optional<CheckError> missing_service(const net::ResponderInfo& info, const MediaPathParams& p) {
  for (auto port : p.udp_ports)
    if (!info.serves("stun", port))
      if (auto err = net::setup_error(info, "udp_echo", port)) return err;
  if (!info.serves("stun", p.tcp_port))
    if (auto err = net::setup_error(info, "tcp_accept", p.tcp_port)) return err;
  if (info.serves("https_echo", p.tls_port)) return std::nullopt;
  return net::setup_error(info, "tls_echo", p.tls_port);
}

// Keeps a rung's attempt; a local fault becomes the measurement's error.
bool keep(Measured<MediaPathResult>& m, Step step) {
  if (step.error) {
    m.error = std::move(step.error);
    return false;
  }
  m.result.attempts.push_back(std::move(step.attempt));
  return true;
}

// The last rung, when an explicit proxy applies to https://host:tls_port.
asio::awaitable<void> tls_via_proxy(Measured<MediaPathResult>& m, const MediaPathParams& p, CheckContext& ctx,
                                    bool echo_inside) {
  http_proxy::Url target{"https", "", "", p.host, p.tls_port};
  auto choice = http_proxy::choose_proxy(target, p.proxy, http_proxy::ProxyEnvironment::from_process());
  if (!choice.error.empty()) {
    m.error = CheckError{p.proxy ? ErrorReason::bad_params : ErrorReason::local, Operation::none, choice.error};
    co_return;
  }
  if (!choice.proxy) co_return;
  m.result.proxy = choice.proxy->scheme + "://" + choice.proxy->authority();
  m.result.proxy_source = choice.source;
  auto resolving = resolve_target(ctx, choice.proxy->host);
  auto proxy_addresses = co_await std::move(resolving);
  if (!proxy_addresses.resolved()) {
    m.error = CheckError{ErrorReason::dependency, Operation::resolve,
                         fmt::format("the proxy {} ({}) does not resolve: {}", choice.proxy->host, choice.source,
                                     proxy_addresses.message),
                         unresolved_cause(proxy_addresses)};
    co_return;
  }
  tcp::endpoint proxy_at(proxy_addresses.addresses.front(), choice.proxy->port);
  auto trying = media_path::try_tls_via_proxy(ctx, proxy_at, *choice.proxy, p.host, p.tls_port, ctx.budget(kTlsWait),
                                              echo_inside);
  if (!keep(m, co_await std::move(trying))) co_return;
  if (m.result.attempts.back().result == AttemptResult::ok) m.result.path = PathTransport::tls;
}

asio::awaitable<Measured<MediaPathResult>> measure_media_path(MediaPathParams p, CheckContext& ctx) {
  Measured<MediaPathResult> m;
  m.result.host = p.host;
  auto asking = resolve_and_ask(ctx, p.host, p.control_port);
  auto responder = co_await std::move(asking);
  if (!responder.resolved()) {
    m.result.unresolved = responder.lookup;
    co_return m;
  }
  if (auto err = missing_service(responder.info, p)) {
    m.error = std::move(err);
    co_return m;
  }
  auto address = responder.address();
  m.result.address = address.to_string();

  // UDP: every media port at once; any answer makes UDP the path.
  std::vector<asio::awaitable<Step>> udp_steps;
  auto udp_wait = ctx.budget(kUdpWait);
  for (auto port : p.udp_ports) {
    udp::endpoint to(address, port);
    bool echo = responder.info.serves("udp_echo", port);
    udp_steps.push_back(echo ? media_path::try_udp(ctx, to, udp_wait) : media_path::try_udp_stun(ctx, to, udp_wait));
  }
  auto gathering = net::gather(std::move(udp_steps));
  auto udp_results = co_await std::move(gathering);
  for (auto& step : udp_results)
    if (!keep(m, std::move(step))) co_return m;
  if (std::any_of(m.result.attempts.begin(), m.result.attempts.end(),
                  [](const PathAttempt& a) { return a.result == AttemptResult::ok; })) {
    m.result.path = PathTransport::udp;
    co_return m;
  }

  tcp::endpoint tcp_to(address, p.tcp_port);
  auto tcp_trying = responder.info.serves("tcp_accept", p.tcp_port)
                        ? media_path::try_tcp(ctx, tcp_to, ctx.budget(kTcpWait))
                        : media_path::try_tcp_stun(ctx, tcp_to, ctx.budget(kTcpWait));
  if (!keep(m, co_await std::move(tcp_trying))) co_return m;
  if (m.result.attempts.back().result == AttemptResult::ok) {
    m.result.path = PathTransport::tcp;
    co_return m;
  }

  // The framed echo inside TLS where the responder serves it; else its other TLS service on that port.
  bool echo_inside = responder.info.serves("tls_echo", p.tls_port);
  auto tls_trying = media_path::try_tls(ctx, tcp::endpoint(address, p.tls_port), ctx.budget(kTlsWait), echo_inside);
  if (!keep(m, co_await std::move(tls_trying))) co_return m;
  if (m.result.attempts.back().result == AttemptResult::ok) {
    m.result.path = PathTransport::tls;
    co_return m;
  }
  auto proxied = tls_via_proxy(m, p, ctx, echo_inside);
  co_await std::move(proxied);
  co_return m;
}

}  // namespace

MediaPathParams MediaPathParams::parse(ParamReader& r) {
  MediaPathParams p;
  p.host = r.string("host");
  if (const auto* j = r.raw("udp_ports")) {
    p.udp_ports.clear();
    auto one = [&](const nlohmann::json& e, const std::string& path) {
      if (e.is_number_integer() && e.get<long long>() >= 1 && e.get<long long>() <= 65535)
        p.udp_ports.push_back(static_cast<std::uint16_t>(e.get<long long>()));
      else
        r.error(path, "expected a port number 1-65535");
    };
    if (j->is_array())
      for (std::size_t i = 0; i < j->size(); ++i) one((*j)[i], fmt::format("udp_ports[{}]", i));
    else
      one(*j, "udp_ports");
    if (r.ok() && p.udp_ports.empty()) r.error("udp_ports", "expected at least one port");
    if (p.udp_ports.size() > kMaxUdpPorts)
      r.error("udp_ports", fmt::format("at most {} ports (the media ports a client tries)", kMaxUdpPorts));
  }
  p.tcp_port = r.port_or("tcp_port", 5004);
  p.tls_port = r.port_or("tls_port", 443);
  p.proxy = r.opt_string("proxy");
  std::string error;
  if (p.proxy && *p.proxy != "direct" && !p.proxy->empty() && !http_proxy::parse_url(*p.proxy, error, "http"))
    r.error("proxy", error);
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  return p;
}

std::string MediaPathParams::target() const { return host; }

CheckKind media_path_check_kind() {
  return make_check_kind<MediaPathParams, MediaPathResult>(
      "media_path", Millis(15000), {&measure_media_path, &judge_media_path, &media_path_view, &media_path_metrics});
}

}  // namespace callready::checks
