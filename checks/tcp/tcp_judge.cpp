// The tcp kind's verdict and details, from a TcpResult alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "checks/common/silence.hpp"
#include "checks/tcp/tcp_check.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::tcp {

using net::NetFailure;

const TcpAttempt* TcpResult::fastest_connected() const {
  const TcpAttempt* best = nullptr;
  for (const auto& a : attempts)
    if (a.connected && (!best || a.rtt_ms < best->rtt_ms)) best = &a;
  return best;
}

const TcpAttempt* TcpResult::shown() const {
  if (const auto* best = fastest_connected()) return best;
  return attempts.empty() ? nullptr : &attempts.front();
}

void to_json(nlohmann::json& j, const TcpResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  j["port"] = r.port;
  const auto* shown = r.shown();
  j["address"] = shown ? nlohmann::json(shown->address.to_string()) : nlohmann::json(nullptr);
  j["connected"] = shown && shown->connected;
  j["rtt_ms"] = shown && shown->connected ? nlohmann::json(shown->rtt_ms) : nlohmann::json(nullptr);
  if (!shown) {
    j["error"] = "no_address";
    return;
  }
  if (!shown->connected) j["error"] = net::to_string(shown->failure);
  write_silence(j, shown->silence);
  auto& list = j["attempts"] = nlohmann::json::array();
  for (const auto& a : r.attempts) {
    nlohmann::json e = {
        {"address", a.address.to_string()}, {"connected", a.connected}, {"rtt_ms", a.rtt_ms}, {"syns", a.syns}};
    if (!a.connected) e["error"] = net::to_string(a.failure);
    write_silence(e, a.silence);
    list.push_back(std::move(e));
  }
}

namespace {

// " within 250 ms, 4 x the 1.2 ms RTT measured to it": how long silence was waited out.
std::string waited(const TcpAttempt& a) {
  if (!a.silence) return {};
  if (a.silence->basis == net::WaitBasis::rtt && a.silence->rtt_ms)
    return fmt::format(" within {} ms ({} x the {:.1f} ms RTT this scan measured to it, at least {} ms)",
                       a.silence->wait.count(), net::kSilenceRttMultiple, *a.silence->rtt_ms,
                       net::kSilenceFloor.count());
  return fmt::format(" within {} ms", a.silence->wait.count());
}

// "<where> refused the connection (...)": what a failed connect means.
std::string explain(const TcpAttempt& a, const std::string& where) {
  switch (a.failure) {
    case NetFailure::refused:
      return fmt::format("{} refused the connection (a firewall REJECT or nothing listening)", where);
    case NetFailure::timeout:
      return fmt::format("{} did not answer{} (packets dropped on the way, or a firewall DROP)", where, waited(a));
    case NetFailure::unreachable:
      return fmt::format("{} is unreachable (no route, or ICMP unreachable from a router)", where);
    case NetFailure::reset:
      return fmt::format("{} reset the connection", where);
    default:
      return fmt::format("{}: {}", where, a.message.empty() ? net::to_string(a.failure) : a.message);
  }
}

}  // namespace

Judgement judge_tcp(const TcpResult& r, const TcpParams& p) {
  Judgement j;
  if (!r.resolved.resolved() || r.attempts.empty()) {
    j.findings.push_back(checks::unresolved_finding("tcp", r.resolved, "connect to " + p.target()));
    j.summary = j.findings.back().message;
    return j;
  }
  if (const auto* best = r.fastest_connected()) {
    auto best_address = best->address.to_string();
    j.summary = fmt::format("connected to {} ({}) in {} ms", p.target(), best_address, best->rtt_ms);
    for (const auto& a : r.attempts) {
      // This machine could not try that family at all: nothing learnt about the network.
      if (a.connected || a.failure == NetFailure::local) continue;
      auto address = a.address.to_string();
      j.findings.push_back(
          {.severity = Severity::warning,
           .code = "tcp.partial",
           .message = explain(a, fmt::format("{} port {} at {}", p.host, p.port, address)) +
                      fmt::format("; {} works, so clients that try this address first will stall", best_address),
           .remediation = fmt::format("Allow outbound TCP {} to {} as well, or fix its route", p.port, address),
           .operation = Operation::connect});
    }
    return j;
  }
  const auto& first = r.attempts.front();
  std::vector<std::string> addresses;
  for (const auto& a : r.attempts) addresses.push_back(a.address.to_string());
  j.summary = explain(first, p.target());
  j.findings.push_back(
      {.severity = Severity::critical,
       .code = fmt::format("tcp.{}", net::to_string(first.failure)),
       .message = explain(first, fmt::format("{} ({})", p.target(), fmt::join(addresses, ", "))),
       .remediation = fmt::format("Allow outbound TCP {} from this network to {} ({}) on the firewall and any proxy",
                                  p.port, p.host, fmt::join(addresses, ", ")),
       .operation = Operation::connect});
  return j;
}

}  // namespace callready::checks::tcp
