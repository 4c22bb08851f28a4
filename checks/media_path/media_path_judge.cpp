// The media_path kind's verdict and details, from a MediaPathResult alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "checks/media_path/media_path_check.hpp"

namespace callready::checks {

const char* to_string(PathTransport t) {
  switch (t) {
    case PathTransport::udp:
      return "udp";
    case PathTransport::tcp:
      return "tcp";
    case PathTransport::tls:
      return "tls";
  }
  return "?";
}

const char* to_string(AttemptResult r) {
  switch (r) {
    case AttemptResult::ok:
      return "ok";
    case AttemptResult::timeout:
      return "timeout";
    case AttemptResult::refused:
      return "refused";
    case AttemptResult::reset:
      return "reset";
    case AttemptResult::unreachable:
      return "unreachable";
    case AttemptResult::handshake_failed:
      return "handshake_failed";
    case AttemptResult::proxy_refused:
      return "proxy_refused";
    case AttemptResult::not_tried:
      return "not_tried";
  }
  return "?";
}

const PathAttempt* MediaPathResult::chosen() const {
  for (const auto& a : attempts)
    if (a.result == AttemptResult::ok) return &a;
  return nullptr;
}

void to_json(nlohmann::json& j, const MediaPathResult& r) {
  j = nlohmann::json::object();
  j["host"] = r.host;
  j["address"] = r.address.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.address);
  j["path"] = r.path ? nlohmann::json(to_string(*r.path)) : nlohmann::json(nullptr);
  j["proxy"] = r.proxy.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.proxy);
  if (!r.proxy_source.empty()) j["proxy_source"] = r.proxy_source;
  auto& list = j["attempts"] = nlohmann::json::array();
  for (const auto& a : r.attempts) {
    nlohmann::json e = {{"transport", to_string(a.transport)}, {"port", a.port}, {"result", to_string(a.result)}};
    e["probe"] = a.probe;
    e["rtt_ms"] = a.rtt_ms ? nlohmann::json(*a.rtt_ms) : nlohmann::json(nullptr);
    if (a.result != AttemptResult::ok) {
      e["operation"] = to_string(a.operation);
      e["detail"] = a.detail;
    }
    if (!a.proxy.empty()) {
      e["proxy"] = a.proxy;
      e["proxy_status"] = a.proxy_status ? nlohmann::json(a.proxy_status) : nlohmann::json(nullptr);
    }
    list.push_back(std::move(e));
  }
}

namespace {

std::string transport_name(PathTransport t) {
  switch (t) {
    case PathTransport::udp:
      return "UDP";
    case PathTransport::tcp:
      return "TCP";
    case PathTransport::tls:
      return "TLS";
  }
  return "?";
}

// Why one attempt failed, in words a technician acts on.
std::string why(const PathAttempt& a) {
  std::string reason;
  switch (a.result) {
    case AttemptResult::timeout:
      reason = "no answer (dropped on the way, e.g. a firewall DROP)";
      break;
    case AttemptResult::refused:
      reason = "refused (a firewall REJECT with a reset, or nothing listening)";
      break;
    case AttemptResult::reset:
      reason = "cut mid-way (reset or closed by a middlebox)";
      break;
    case AttemptResult::unreachable:
      reason = "ICMP unreachable (a router's or firewall's REJECT)";
      break;
    case AttemptResult::handshake_failed:
      reason = "the TLS handshake failed (a proxy or firewall that needs SNI or inspects TLS)";
      break;
    case AttemptResult::proxy_refused:
      reason = a.proxy_status ? fmt::format("the proxy refused the tunnel with HTTP {}", a.proxy_status)
                              : std::string("the proxy refused the tunnel");
      break;
    default:
      reason = to_string(a.result);
  }
  return fmt::format("{} {}{}: {}{}", transport_name(a.transport), a.port,
                     a.proxy.empty() ? "" : " via proxy " + a.proxy, reason,
                     a.detail.empty() ? "" : " [" + a.detail + "]");
}

std::vector<std::string> failures(const MediaPathResult& r) {
  std::vector<std::string> out;
  for (const auto& a : r.attempts)
    if (a.result != AttemptResult::ok) out.push_back(why(a));
  return out;
}

// The operation of the first failed attempt: where the ladder first fell.
Operation first_failed_operation(const MediaPathResult& r) {
  for (const auto& a : r.attempts)
    if (a.result != AttemptResult::ok) return a.operation;
  return Operation::none;
}

std::string udp_ports_text(const MediaPathParams& p) { return fmt::format("{}", fmt::join(p.udp_ports, ", ")); }

}  // namespace

Judgement judge_media_path(const MediaPathResult& r, const MediaPathParams& p) {
  if (r.unresolved) return unresolved_judgement("media_path", *r.unresolved, "reach the responder " + p.host);
  Judgement j;
  const auto* chosen = r.chosen();
  if (!chosen || !r.path) {
    auto reasons = failures(r);
    j.summary = fmt::format("no media path to {}: UDP, TCP and TLS all failed", p.host);
    j.findings.push_back(
        {.severity = Severity::critical,
         .code = "media_path.no_path",
         .message = fmt::format("No transport carried media to {}: {}", p.host, fmt::join(reasons, "; ")),
         .remediation = fmt::format("Allow outbound UDP {} to {} (or at least TCP {} or TLS {})", udp_ports_text(p),
                                    p.host, p.tcp_port, p.tls_port),
         .operation = r.attempts.empty() ? Operation::none : r.attempts.back().operation});
    return j;
  }
  auto rtt = chosen->rtt_ms ? fmt::format(", {} ms", *chosen->rtt_ms) : std::string();
  j.summary = fmt::format("media would take {} {}{} to {}{}", transport_name(chosen->transport), chosen->port,
                          chosen->proxy.empty() ? "" : " via proxy " + chosen->proxy, p.host, rtt);
  auto reasons = failures(r);
  if (*r.path == PathTransport::udp) {
    if (!reasons.empty())
      j.findings.push_back({.severity = Severity::info,
                            .code = "media_path.udp_partial",
                            .message = fmt::format("UDP media works to {}, but not on every media port: {}", p.host,
                                                   fmt::join(reasons, "; ")),
                            .remediation = fmt::format("Allow outbound UDP {} to {}", udp_ports_text(p), p.host),
                            .operation = first_failed_operation(r)});
    return j;
  }
  bool tls = *r.path == PathTransport::tls;
  std::vector<std::string> failed_rungs;
  for (const auto& a : r.attempts)
    if (a.result != AttemptResult::ok)
      failed_rungs.push_back(fmt::format("{} {}{} {}", transport_name(a.transport), a.port,
                                         a.proxy.empty() ? "" : " via proxy", to_string(a.result)));
  j.summary += fmt::format(" (fallback: {})", fmt::join(failed_rungs, ", "));
  j.findings.push_back(
      {.severity = Severity::warning,
       .code = tls ? "media_path.tls_fallback" : "media_path.tcp_fallback",
       .message = fmt::format("Media would fall back to {} {}{} to {}: {}. Media over {} suffers added delay and "
                              "jitter whenever a packet is lost{}",
                              transport_name(*r.path), chosen->port,
                              chosen->proxy.empty() ? "" : " through the proxy " + chosen->proxy, p.host,
                              fmt::join(reasons, "; "), tls ? "TLS" : "TCP",
                              chosen->proxy.empty() ? "" : ", and the proxy may become a bandwidth bottleneck"),
       .remediation = fmt::format("Allow outbound UDP {} to {}{}", udp_ports_text(p), p.host,
                                  tls ? fmt::format(" (and TCP {})", p.tcp_port) : std::string()),
       .operation = first_failed_operation(r)});
  return j;
}

}  // namespace callready::checks
