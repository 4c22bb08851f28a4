// The `stun` measurement: resolve, (with our responder) ask its control port,
// one Binding exchange, then the RFC 5780 tests. It decides nothing; the
// judge reads the StunResult.
#include <fmt/format.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/common/resolve_step.hpp"
#include "checks/stun/stun_client.hpp"
#include "checks/stun/stun_result.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/responder_control.hpp"

namespace asio = boost::asio;
using asio::ip::udp;

namespace callready::checks::stun {

namespace {

// Whether the server is `callready respond`: the params say so, or
// --responder names this host.
bool talks_to_responder(const StunParams& p, const ScanSettings& s, const asio::ip::address& address) {
  if (p.responder) return *p.responder;
  if (!s.responder) return false;
  auto hp = net::parse_host_port(*s.responder);
  return hp && (hp->host == p.host || hp->host == address.to_string());
}

void take_exchange(StunResult& r, const Exchange& ex) {
  r.requests_sent = ex.sent();
  if (ex.local.port() != 0) r.local = ex.local;
  if (!ex.answered) {
    r.failed = ex.failed;
    r.failure = ex.failure;
    r.error = ex.error;
    r.junk = ex.junk;
    r.icmp = ex.icmp;
    r.silence = ex.silence;
    return;
  }
  const auto& resp = ex.response;
  r.answered = true;
  r.rtt_ms = ex.rtt_ms;
  if (const auto* a = resp.find(attr::software)) r.software = read_string(*a);
  if (resp.cls == MessageClass::error) {
    const auto* a = resp.find(attr::error_code);
    r.error_response = (a ? read_error_code(*a) : std::nullopt).value_or(ErrorCode{0, "without an ERROR-CODE"});
    return;
  }
  if (const auto* a = resp.find(attr::xor_mapped_address)) r.xor_mapped = read_xor_address(*a, resp.transaction_id);
  if (const auto* a = resp.find(attr::mapped_address)) r.plain_mapped = read_address(*a);
  if (const auto* a = resp.find(attr::other_address)) r.other_address = read_address(*a);
}

}  // namespace

// A server's OTHER-ADDRESS is followed only within its own address family and
// to an address a STUN server could hold: otherwise any server could point
// the scan's probes at an arbitrary host (or at this machine itself).
std::string other_address_not_followed(const Endpoint& server, const Endpoint& other) {
  const auto& a = other.address();
  if (a.is_v4() != server.address().is_v4())
    return fmt::format("OTHER-ADDRESS {} is not in the server's address family ({}); not followed", to_string(other),
                       server.address().is_v4() ? "IPv4" : "IPv6");
  if (a.is_unspecified() || a.is_multicast() || other.port() == 0)
    return fmt::format("OTHER-ADDRESS {} is not a unicast address and port; not followed", to_string(other));
  if (a.is_loopback() != server.address().is_loopback())
    return fmt::format("OTHER-ADDRESS {} is {} loopback while the server is {}; not followed", to_string(other),
                       a.is_loopback() ? "" : "not", server.address().is_loopback() ? "" : "not");
  return {};
}

asio::awaitable<Measured<StunResult>> measure(StunParams p, CheckContext& ctx) {
  Measured<StunResult> m;
  auto& r = m.result;
  r.server = p.host;
  r.port = p.port;
  r.transport = p.transport;

  auto lookup = co_await checks::resolve_target(ctx, p.host);
  if (!lookup.resolved()) {
    r.unresolved = std::move(lookup);
    co_return m;
  }
  auto address = lookup.addresses.front();
  r.address = address;
  Endpoint server(address, p.port);

  // Our responder: requests are authenticated with the scan's token (and
  // padded, so its answers never outgrow them); others get plain requests.
  RequestOptions plain;  // named: GCC 12 miscompiles braced temporaries in co_await
  if (talks_to_responder(p, ctx.settings, address)) {
    plain.password = ctx.settings.token;
    auto limit = ctx.budget(Millis(3000));
    auto info = co_await ctx.responder.ask(address, std::nullopt, std::nullopt, limit);
    if (auto e = net::setup_error(info, "stun", p.port)) {
      m.error = std::move(e);
      co_return m;
    }
  }

  Exchange first;
  if (p.transport == "udp") {
    auto route = local_address_towards(server);
    if (!route.local) {
      if (net::classify(route.error) == net::NetFailure::local) {
        m.error = net::local_error(Operation::bind, "a UDP socket towards " + to_string(server), route.error);
        co_return m;
      }
      r.failed = Operation::connect;
      r.failure = net::classify(route.error);
      r.error = route.error.message();
      co_return m;
    }
    udp::socket sock(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    udp::endpoint bind_to(*route.local, 0);
    sock.open(bind_to.protocol(), ec);
    if (!ec) sock.bind(bind_to, ec);
    if (ec) {
      m.error = net::local_error(Operation::bind, "UDP " + to_string(bind_to), ec);
      co_return m;
    }
    // Silence is waited out for max(4 x RTT, 250 ms) once this scan knows an
    // RTT to the address (another check's answer, the responder's control
    // port), else for the RFC 5389 schedule within the budget.
    Retransmission plan;
    plan.budget = ctx.budget(Millis(39500));
    plan.silence_from_rtt = true;
    first = co_await udp_exchange(sock, server, plain, plan);
  } else {
    auto connect_limit = ctx.budget(Millis(5000));
    auto answer_limit = ctx.budget(Millis(8000));
    first = co_await tcp_exchange(server, connect_limit, answer_limit, plain);
  }
  if (!first.answered && first.failure == net::NetFailure::local) {
    m.error = CheckError{ErrorReason::local, first.failed, to_string(server) + ": " + first.error};
    co_return m;
  }
  take_exchange(r, first);
  if (!r.answered || r.error_response || !r.mapped()) co_return m;

  // RFC 5780, when the server offers it and the caller wants it.
  if (p.transport == "tcp")
    r.discovery = NatDiscovery::tcp;
  else if (!p.nat_discovery)
    r.discovery = NatDiscovery::disabled;
  else if (!r.other_address)
    r.discovery = NatDiscovery::no_other_address;
  else if (auto why = other_address_not_followed(server, *r.other_address); !why.empty()) {
    r.discovery = NatDiscovery::other_address_refused;
    r.other_address_refused = why;
  } else {
    r.discovery = NatDiscovery::ran;
    auto deadline = Clock::now() + ctx.budget(Millis(60000));
    auto local = first.local.address();
    auto other = *r.other_address;
    // The filtering tests' silence from the RTTs recorded so far (the first
    // exchange's, test I's): DiscoveryPlan::silence_likely.
    DiscoveryPlan plan;
    plan.password = plain.password;
    r.behaviour = co_await discover(local, server, other, deadline, plan);
  }
  co_return m;
}

}  // namespace callready::checks::stun
