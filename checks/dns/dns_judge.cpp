// The dns kind's verdict and details, from a DnsResult alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "checks/common/resolve_step.hpp"
#include "checks/dns/dns_check.hpp"

namespace callready::checks::dns {

using net::DnsFailure;

void to_json(nlohmann::json& j, const DnsResult& r) {
  j = nlohmann::json::object();
  j["name"] = r.name;
  if (r.query_name != r.name) j["query_name"] = r.query_name;
  j["type"] = r.type;
  j["server"] = r.server;
  j["rcode"] = rcode_name(r.rcode);
  j["rtt_ms"] = r.rtt_ms ? nlohmann::json(*r.rtt_ms) : nlohmann::json(nullptr);
  auto& answers = j["answers"] = nlohmann::json::array();
  if (r.failure == DnsFailure::none) {
    for (const auto& s : r.srv)
      answers.push_back({{"target", s.target}, {"port", s.port}, {"priority", s.priority}, {"weight", s.weight}});
    for (const auto& a : r.addresses) answers.push_back(a);
    for (const auto& n : r.names) answers.push_back(n);
  }
  if (r.ttl) j["ttl"] = *r.ttl;
  if (r.targets) {
    auto& targets = j["targets"] = nlohmann::json::array();
    for (const auto& t : *r.targets) {
      nlohmann::json e = {{"target", t.target}, {"addresses", t.addresses}};
      if (t.addresses.empty()) e["failure"] = net::to_string(t.failure);
      targets.push_back(std::move(e));
    }
  }
  if (!r.outside_subnets.empty()) j["outside_subnets"] = r.outside_subnets;
  j["transport"] = r.transport;
  j["truncated"] = r.truncated;
  if (!r.tcp_error.empty()) j["tcp_error"] = r.tcp_error;
}

std::vector<std::string> addresses_outside(const std::vector<std::string>& addresses,
                                           const std::vector<net::Cidr>& nets) {
  std::vector<std::string> outside;
  if (nets.empty()) return outside;
  for (const auto& a : addresses) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(a, ec);
    if (!ec && !net::in_any(nets, addr) && std::find(outside.begin(), outside.end(), a) == outside.end())
      outside.push_back(a);
  }
  return outside;
}

namespace {

// The server answered over UDP, but truncated (TC), and the retry over TCP
// failed: UDP 53 works, so saying "no answer" would send a technician to
// the wrong port.
Finding truncated_finding(const DnsResult& r) {
  return Finding{
      .severity = Severity::critical,
      .code = "dns.truncated_tcp_failed",
      .message = fmt::format("The DNS server {} answered {} {} over UDP, but the answer was truncated (TC set: too "
                             "large for UDP) and the retry over TCP failed ({})",
                             r.server, r.query_name, r.type, r.tcp_error),
      .remediation = fmt::format("Allow DNS over TCP 53 to {} (answers larger than 512 bytes need it, RFC 7766); UDP "
                                 "53 works",
                                 r.server),
      .operation = r.tcp_failed == Operation::none ? Operation::connect : r.tcp_failed,
      // What the answer says is unknown: the rule's fix (publish a record,
      // ...) does not apply; allowing TCP 53 does.
      .inconclusive = true};
}

// The query itself brought no usable answer: why, in plain language.
Finding failure_finding(const DnsResult& r) {
  if (r.truncated && !r.tcp_error.empty()) return truncated_finding(r);
  const auto& q = r.query_name;
  const auto& srv = r.server;
  std::string code = fmt::format("dns.{}", net::to_string(r.failure));
  auto failed = [&](std::string message, std::string remediation) {
    return Finding{.severity = Severity::critical,
                   .code = code,
                   .message = std::move(message),
                   .remediation = std::move(remediation),
                   .operation = Operation::resolve,
                   .inconclusive = r.failure == DnsFailure::timeout || r.failure == DnsFailure::unreachable,
                   .cause = checks::dns_server_cause(r.failure)};
  };
  switch (r.failure) {
    case DnsFailure::nxdomain:
      return failed(
          fmt::format("{} does not exist: the DNS server {} answered NXDOMAIN", q, srv),
          fmt::format("Publish the {} record for {} in its zone, or correct the name in the profile", r.type, q));
    case DnsFailure::no_data:
      return failed(fmt::format("{} exists but has no {} record", q, r.type),
                    fmt::format("Add the {} record for {} to its zone", r.type, q));
    case DnsFailure::servfail:
      return failed(fmt::format("The DNS server {} failed to answer for {} (SERVFAIL): the zone's servers are "
                                "unreachable or broken, or DNSSEC validation failed",
                                srv, q),
                    "Check the resolver's upstream connectivity and the zone's authoritative servers");
    case DnsFailure::refused:
      return failed(fmt::format("The DNS server {} refused to answer for {} (REFUSED): it does not serve this client "
                                "or this zone",
                                srv, q),
                    "Use a resolver that serves this network (DHCP/resolv.conf), or allow this client on it");
    case DnsFailure::timeout:
      return failed(fmt::format("No answer from the DNS server {} for {} within {} ms", srv, q, r.timeout_ms),
                    "Check that DNS (UDP and TCP 53) to the resolver is allowed and the resolver is up");
    case DnsFailure::unreachable:
      return failed(fmt::format("The DNS server {} could not be reached ({})", srv,
                                r.error.empty() ? "connection refused" : r.error),
                    "Check the resolver address and that DNS (UDP and TCP 53) to it is allowed");
    case DnsFailure::bad_response:
      return failed(fmt::format("The query for {} {} failed: the DNS server {} sent a garbled reply ({})", q, r.type,
                                srv, r.error.empty() ? "it did not parse" : r.error),
                    "Check the resolver and any DNS proxy or middlebox that rewrites DNS on the path");
    case DnsFailure::bad_name:
      return failed(fmt::format("\"{}\" is not a valid DNS name", q),
                    "Correct the name in the profile or the --set value");
    default:
      return failed(fmt::format("The query for {} {} failed: {}", q, r.type,
                                r.error.empty() ? net::to_string(r.failure) : r.error),
                    "Check the resolver and the zone");
  }
}

std::string listing(const DnsResult& r) {
  if (r.type == "SRV") {
    std::vector<std::string> parts;
    for (const auto& s : r.srv) parts.push_back(fmt::format("{}:{} (p{} w{})", s.target, s.port, s.priority, s.weight));
    return fmt::format("{}", fmt::join(parts, ", "));
  }
  return fmt::format("{}", fmt::join(r.type == "PTR" ? r.names : r.addresses, ", "));
}

void judge_srv_targets(const DnsResult& r, const DnsParams& p, std::vector<Finding>& out) {
  for (const auto& s : r.srv)
    if (s.target.empty() || s.target == ".")
      out.push_back({.severity = Severity::critical,
                     .code = "dns.srv_service_unavailable",
                     .message = fmt::format("{} says the service is not available here (SRV target \".\")", r.name),
                     .remediation = "Publish real SRV targets for the service"});
  if (!r.targets) return;
  for (const auto& t : *r.targets) {
    if (t.addresses.empty()) {
      bool absent = t.failure == DnsFailure::no_data || t.failure == DnsFailure::nxdomain;
      out.push_back(
          {.severity = Severity::critical,
           .code = "dns.srv_target_no_address",
           .message =
               absent ? fmt::format("SRV target {} has no A or AAAA record", t.target)
                      : fmt::format("SRV target {} could not be resolved ({})", t.target, net::to_string(t.failure)),
           .remediation = absent ? fmt::format("Publish an A (and/or AAAA) record for {}", t.target)
                                 : fmt::format("Check that the resolver can resolve {} and that its zone's servers "
                                               "answer",
                                               t.target),
           .operation = Operation::resolve});
    } else if (p.max_addresses_per_target && static_cast<long long>(t.addresses.size()) > *p.max_addresses_per_target) {
      out.push_back(
          {.severity = Severity::critical,
           .code = "dns.srv_target_multiple_addresses",
           .message = fmt::format("SRV target {} maps to {} addresses ({}); at most {} allowed", t.target,
                                  t.addresses.size(), fmt::join(t.addresses, ", "), *p.max_addresses_per_target),
           .remediation =
               fmt::format("Give {} exactly one address; put each server behind its own SRV target name", t.target)});
    }
  }
}

}  // namespace

Judgement judge_dns(const DnsResult& r, const DnsParams& p) {
  Judgement j;
  if (r.failure != DnsFailure::none) {
    if (r.failure == DnsFailure::no_data && p.min_answers == 0) {
      j.summary = fmt::format("{} {}: no records (none required)", r.name, r.type);
      return j;
    }
    j.findings.push_back(failure_finding(r));
    j.summary = j.findings.back().message;
    return j;
  }
  if (!r.parse_error.empty()) {
    j.findings.push_back(
        {.severity = Severity::critical,
         .code = "dns.bad_response",
         .message = fmt::format("The answer for {} {} did not parse: {}", r.query_name, r.type, r.parse_error),
         .remediation = "Check the zone's records and any DNS proxy on the path",
         .operation = Operation::parse});
    j.summary = j.findings.back().message;
    return j;
  }

  judge_srv_targets(r, p, j.findings);
  if (p.max_addresses && static_cast<long long>(r.addresses.size()) > *p.max_addresses)
    j.findings.push_back({.severity = Severity::critical,
                          .code = "dns.multiple_addresses",
                          .message = fmt::format("{} {} maps to {} addresses ({}); at most {} allowed", r.name, r.type,
                                                 r.addresses.size(), fmt::join(r.addresses, ", "), *p.max_addresses),
                          .remediation = fmt::format("Give {} exactly one address (no round-robin records)", r.name),
                          .operation = Operation::resolve});
  auto count = static_cast<long long>(r.answer_count());
  if (count < p.min_answers)
    j.findings.push_back(
        {.severity = Severity::critical,
         .code = "dns.too_few_answers",
         .message = fmt::format("{} {} has {} record(s); at least {} expected", r.name, r.type, count, p.min_answers),
         .remediation = fmt::format("Publish the missing {} records for {}", r.type, r.name)});
  if (!r.outside_subnets.empty()) {
    std::vector<std::string> nets;
    for (const auto& n : p.expect_in_subnets) nets.push_back(n.to_string());
    j.findings.push_back(
        {.severity = Severity::warning,
         .code = "dns.address_outside_subnets",
         .message =
             fmt::format("{} resolved to {} outside the published subnets", r.name, fmt::join(r.outside_subnets, ", ")),
         .remediation = fmt::format("Firewall rules built from the published subnets ({}) will not cover these "
                                    "addresses; check for a DNS proxy rewriting answers, or update the firewall "
                                    "from the current published list",
                                    fmt::join(nets, ", "))});
  }

  j.summary = fmt::format("{} {} -> {} ({} ms)", r.name, r.type, listing(r),
                          r.rtt_ms ? fmt::format("{}", *r.rtt_ms) : std::string("?"));
  for (const auto& f : j.findings)
    if (f.severity != Severity::info) {
      j.summary = f.message;
      break;
    }
  return j;
}

}  // namespace callready::checks::dns
