#include "checks/tcp/tcp_check.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>

#include "probe/net/async.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/target.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace {

struct TcpParams {
  std::string host;
  std::uint16_t port = 0;
  long long connect_timeout_ms = 3000;

  static TcpParams parse(ParamReader& r) {
    TcpParams p;
    p.host = r.string("host");
    p.port = r.port("port");
    p.connect_timeout_ms = r.integer_or("connect_timeout_ms", 50, 60000, 3000);
    return p;
  }
  std::string target() const {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  }
};

struct Attempt {
  std::string address;
  bool connected = false;
  double rtt_ms = 0;
  std::string error;  // refused | timeout | unreachable | ...
};

std::string classify(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return "refused";
  if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable) return "unreachable";
  if (ec == asio::error::timed_out) return "timeout";
  if (ec == asio::error::connection_reset) return "reset";
  if (ec == asio::error::address_family_not_supported) return "no_route_family";
  if (ec == asio::error::access_denied) return "denied";
  return "error: " + ec.message();
}

asio::awaitable<Attempt> connect_one(asio::ip::address addr, std::uint16_t port, Millis limit) {
  Attempt a;
  a.address = addr.to_string();
  asio::ip::tcp::socket sock(co_await asio::this_coro::executor);
  auto start = Clock::now();
  auto r = co_await net::with_timeout(
      sock.async_connect(asio::ip::tcp::endpoint(addr, port), asio::as_tuple(asio::use_awaitable)), limit);
  a.rtt_ms = std::round(std::chrono::duration<double, std::milli>(Clock::now() - start).count() * 10) / 10;
  if (!r) {
    a.error = "timeout";
  } else if (auto [ec] = *r; ec) {
    a.error = classify(ec);
  } else {
    a.connected = true;
  }
  co_return a;
}

std::string explain(const std::string& error, const std::string& where) {
  if (error == "refused") return fmt::format("{} refused the connection (a firewall REJECT or nothing listening)", where);
  if (error == "timeout") return fmt::format("{} did not answer (packets dropped on the way, or a firewall DROP)", where);
  if (error == "unreachable") return fmt::format("{} is unreachable (no route, or ICMP unreachable from a router)", where);
  return fmt::format("{}: {}", where, error);
}

asio::awaitable<CheckOutcome> run_tcp(TcpParams p, CheckContext& ctx) {
  CheckOutcome out;
  auto& d = out.details;
  d["host"] = p.host;
  d["port"] = p.port;
  auto lookup = co_await net::resolve_target(ctx, "tcp", p.host, "connect to " + p.target());
  if (lookup.failure) {
    d["connected"] = false;
    d["error"] = "no_address";
    d["address"] = nullptr;
    d["rtt_ms"] = nullptr;
    out.summary = lookup.failure->message;
    out.findings.push_back(*lookup.failure);
    co_return out;
  }
  std::vector<asio::awaitable<Attempt>> tasks;
  auto limit = ctx.budget(Millis(p.connect_timeout_ms));
  for (const auto& addr : lookup.addresses) tasks.push_back(connect_one(addr, p.port, limit));
  auto attempts = co_await net::gather(std::move(tasks));

  json list = json::array();
  const Attempt* best = nullptr;
  for (const auto& a : attempts) {
    json j = {{"address", a.address}, {"connected", a.connected}, {"rtt_ms", a.rtt_ms}};
    if (!a.connected) j["error"] = a.error;
    list.push_back(j);
    if (a.connected && (!best || a.rtt_ms < best->rtt_ms)) best = &a;
  }
  d["attempts"] = list;
  const Attempt& shown = best ? *best : attempts.front();
  d["address"] = shown.address;
  d["connected"] = shown.connected;
  d["rtt_ms"] = shown.connected ? json(shown.rtt_ms) : json(nullptr);
  if (!shown.connected) d["error"] = shown.error;

  if (best) {
    out.summary = fmt::format("connected to {} ({}) in {} ms", p.target(), best->address, best->rtt_ms);
    for (const auto& a : attempts)
      if (!a.connected)
        out.findings.push_back(
            {Severity::warning, "tcp.partial",
             explain(a.error, fmt::format("{} port {} at {}", p.host, p.port, a.address)) +
                 fmt::format("; {} works, so clients that try this address first will stall", best->address),
             fmt::format("Allow outbound TCP {} to {} as well, or fix its route", p.port, a.address), ""});
  } else {
    std::vector<std::string> addrs;
    for (const auto& a : attempts) addrs.push_back(a.address);
    out.summary = explain(shown.error, p.target());
    out.findings.push_back(
        {Severity::critical, "tcp." + (shown.error.rfind("error", 0) == 0 ? std::string("error") : shown.error),
         explain(shown.error, fmt::format("{} ({})", p.target(), fmt::join(addrs, ", "))),
         fmt::format("Allow outbound TCP {} from this network to {} ({}) on the firewall and any proxy", p.port, p.host,
                     fmt::join(addrs, ", ")),
         ""});
  }
  co_return out;
}

}  // namespace

CheckKind tcp_check_kind() { return make_check_kind<TcpParams>("tcp", Millis(8000), &run_tcp); }

}  // namespace callready::checks
