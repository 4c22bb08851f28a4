#include "checks/dns/dns_check.hpp"

#include <arpa/nameser.h>
#include <fmt/format.h>

#include "checks/dns/dns_records.hpp"
#include "probe/net/cidr.hpp"
#include "probe/net/resolver.hpp"

namespace callready::checks {

namespace {

using net::DnsFailure;
using namespace dns;

struct DnsParams {
  std::string name;
  std::string type;
  bool resolve_targets = false;
  std::optional<long long> max_addresses_per_target;
  std::vector<net::Cidr> expect_in_subnets;
  long long min_answers = 1;
  long long query_timeout_ms = 4000;

  static DnsParams parse(ParamReader& r) {
    DnsParams p;
    p.name = r.string("name");
    p.type = r.choice("type", {"A", "AAAA", "SRV", "PTR"});
    p.resolve_targets = r.boolean_or("resolve_targets", false);
    p.max_addresses_per_target = r.opt_integer("max_addresses_per_target", 1, 64);
    auto nets = r.string_list_or("expect_in_subnets");
    for (std::size_t i = 0; i < nets.size(); ++i) {
      if (auto c = net::Cidr::parse(nets[i])) p.expect_in_subnets.push_back(*c);
      else r.error(fmt::format("expect_in_subnets[{}]", i), "expected a CIDR such as 203.0.113.0/24, got \"" + nets[i] + "\"");
    }
    p.min_answers = r.integer_or("min_answers", 0, 1000, 1);
    p.query_timeout_ms = r.integer_or("query_timeout_ms", 100, 60000, 4000);
    if ((p.resolve_targets || p.max_addresses_per_target) && p.type != "SRV" && r.ok())
      r.error("resolve_targets", "only applies to type SRV");
    return p;
  }
  std::string target() const { return fmt::format("{} {}", name, type); }
};

int type_code(const std::string& t) {
  if (t == "A") return ns_t_a;
  if (t == "AAAA") return ns_t_aaaa;
  if (t == "SRV") return ns_t_srv;
  return ns_t_ptr;
}

// The finding for a query that brought no usable answer, in plain language.
Finding failure_finding(const DnsParams& p, const std::string& qname, const net::DnsResponse& r) {
  Finding f;
  f.severity = Severity::critical;
  f.code = fmt::format("dns.{}", net::to_string(r.failure));
  const auto& srv = r.server;
  switch (r.failure) {
    case DnsFailure::nxdomain:
      f.message = fmt::format("{} does not exist: the DNS server {} answered NXDOMAIN", qname, srv);
      f.remediation = fmt::format("Publish the {} record for {} in its zone, or correct the name in the profile", p.type, qname);
      break;
    case DnsFailure::no_data:
      f.message = fmt::format("{} exists but has no {} record", qname, p.type);
      f.remediation = fmt::format("Add the {} record for {} to its zone", p.type, qname);
      break;
    case DnsFailure::servfail:
      f.message = fmt::format("The DNS server {} failed to answer for {} (SERVFAIL): the zone's servers are unreachable or broken, or DNSSEC validation failed", srv, qname);
      f.remediation = "Check the resolver's upstream connectivity and the zone's authoritative servers";
      break;
    case DnsFailure::refused:
      f.message = fmt::format("The DNS server {} refused to answer for {} (REFUSED): it does not serve this client or this zone", srv, qname);
      f.remediation = "Use a resolver that serves this network (DHCP/resolv.conf), or allow this client on it";
      break;
    case DnsFailure::timeout:
      f.message = fmt::format("No answer from the DNS server {} for {} within {} ms", srv, qname, p.query_timeout_ms);
      f.remediation = "Check that DNS (UDP and TCP 53) to the resolver is allowed and the resolver is up";
      break;
    case DnsFailure::unreachable:
      f.message = fmt::format("The DNS server {} could not be reached ({})", srv, r.error.empty() ? "connection refused" : r.error);
      f.remediation = "Check the resolver address and that DNS (UDP and TCP 53) to it is allowed";
      break;
    case DnsFailure::bad_name:
      f.message = fmt::format("\"{}\" is not a valid DNS name", qname);
      f.remediation = "Correct the name in the profile or the --set value";
      break;
    default:
      f.message = fmt::format("The query for {} {} failed: {}", qname, p.type, r.error.empty() ? net::to_string(r.failure) : r.error);
      f.remediation = "Check the resolver and the zone";
  }
  return f;
}

boost::asio::awaitable<CheckOutcome> run_dns(DnsParams p, CheckContext& ctx) {
  CheckOutcome out;
  std::string qname = p.type == "PTR" ? reverse_name(p.name) : p.name;
  auto timeout = ctx.budget(Millis(p.query_timeout_ms));
  p.query_timeout_ms = timeout.count();
  auto r = co_await ctx.resolver.query(qname, type_code(p.type), timeout);
  auto& d = out.details;
  d["name"] = p.name;
  if (qname != p.name) d["query_name"] = qname;
  d["type"] = p.type;
  d["server"] = r.server;
  d["rcode"] = rcode_name(r.rcode);
  d["rtt_ms"] = r.failure == DnsFailure::timeout ? json(nullptr)
                                                  : json(std::round(r.rtt.count() / 100.0) / 10.0);
  d["answers"] = json::array();

  DnsAnswers answers;
  if (!r.message.empty()) answers = parse_answers(r.message, type_code(p.type));
  if (!answers.error.empty() && r.failure == DnsFailure::none) {
    out.findings.push_back({Severity::critical, "dns.bad_response",
                            fmt::format("The answer for {} {} did not parse: {}", qname, p.type, answers.error),
                            "Check the zone's records and any DNS proxy on the path", ""});
  }
  if (answers.min_ttl) d["ttl"] = *answers.min_ttl;
  std::size_t count = answers.addresses.size() + answers.srv.size() + answers.names.size();
  if (r.failure == DnsFailure::none && count == 0) r.failure = DnsFailure::no_data;
  if (r.failure != DnsFailure::none) {
    if (!(r.failure == DnsFailure::no_data && p.min_answers == 0)) out.findings.push_back(failure_finding(p, qname, r));
    out.summary = out.findings.empty() ? fmt::format("{} {}: no records (none required)", p.name, p.type)
                                       : out.findings.back().message;
    co_return out;
  }

  std::vector<std::string> all_addresses = answers.addresses;
  if (p.type == "SRV") {
    auto ordered = order_srv(answers.srv);
    json targets = json::array();
    for (const auto& s : ordered) {
      d["answers"].push_back({{"target", s.target}, {"port", s.port}, {"priority", s.priority}, {"weight", s.weight}});
      if (s.target.empty() || s.target == ".") {
        out.findings.push_back({Severity::critical, "dns.srv_service_unavailable",
                                fmt::format("{} says the service is not available here (SRV target \".\")", p.name),
                                "Publish real SRV targets for the service", ""});
      }
    }
    if (p.resolve_targets || p.max_addresses_per_target) {
      std::vector<std::string> seen;
      for (const auto& s : ordered) {
        if (s.target.empty() || s.target == "." || std::find(seen.begin(), seen.end(), s.target) != seen.end()) continue;
        seen.push_back(s.target);
        json t = {{"target", s.target}, {"addresses", json::array()}};
        std::vector<std::string> addrs;
        for (int type : {ns_t_a, ns_t_aaaa}) {
          auto tr = co_await ctx.resolver.query(s.target, type, ctx.budget(timeout));
          if (tr.failure != DnsFailure::none) continue;
          for (auto& a : parse_answers(tr.message, type).addresses) addrs.push_back(a);
        }
        for (auto& a : addrs) t["addresses"].push_back(a);
        targets.push_back(t);
        all_addresses.insert(all_addresses.end(), addrs.begin(), addrs.end());
        if (addrs.empty()) {
          out.findings.push_back({Severity::critical, "dns.srv_target_no_address",
                                  fmt::format("SRV target {} has no A or AAAA record", s.target),
                                  fmt::format("Publish an A (and/or AAAA) record for {}", s.target), ""});
        } else if (p.max_addresses_per_target && static_cast<long long>(addrs.size()) > *p.max_addresses_per_target) {
          out.findings.push_back(
              {Severity::critical, "dns.srv_target_multiple_addresses",
               fmt::format("SRV target {} maps to {} addresses ({}); at most {} allowed", s.target, addrs.size(),
                           fmt::join(addrs, ", "), *p.max_addresses_per_target),
               fmt::format("Give {} exactly one address; put each server behind its own SRV target name", s.target),
               ""});
        }
      }
      d["targets"] = targets;
    }
  } else if (p.type == "PTR") {
    for (auto& n : answers.names) d["answers"].push_back(n);
  } else {
    for (auto& a : answers.addresses) d["answers"].push_back(a);
  }

  if (static_cast<long long>(count) < p.min_answers) {
    out.findings.push_back({Severity::critical, "dns.too_few_answers",
                            fmt::format("{} {} has {} record(s); at least {} expected", p.name, p.type, count, p.min_answers),
                            fmt::format("Publish the missing {} records for {}", p.type, p.name), ""});
  }
  if (!p.expect_in_subnets.empty()) {
    std::vector<std::string> outside;
    for (const auto& a : all_addresses) {
      boost::system::error_code ec;
      auto addr = boost::asio::ip::make_address(a, ec);
      if (!ec && !net::in_any(p.expect_in_subnets, addr)) outside.push_back(a);
    }
    if (!outside.empty()) {
      std::vector<std::string> nets;
      for (const auto& n : p.expect_in_subnets) nets.push_back(n.to_string());
      d["outside_subnets"] = outside;
      out.findings.push_back(
          {Severity::warning, "dns.address_outside_subnets",
           fmt::format("{} resolved to {} outside the published subnets", p.name, fmt::join(outside, ", ")),
           fmt::format("Firewall rules built from the published subnets ({}) will not cover these addresses; check for "
                       "a DNS proxy rewriting answers, or update the firewall from the current published list",
                       fmt::join(nets, ", ")),
           ""});
    }
  }

  std::string listing;
  if (p.type == "SRV") {
    std::vector<std::string> parts;
    for (const auto& s : order_srv(answers.srv))
      parts.push_back(fmt::format("{}:{} (p{} w{})", s.target, s.port, s.priority, s.weight));
    listing = fmt::format("{}", fmt::join(parts, ", "));
  } else {
    listing = fmt::format("{}", fmt::join(p.type == "PTR" ? answers.names : answers.addresses, ", "));
  }
  out.summary = fmt::format("{} {} -> {} ({} ms)", p.name, p.type, listing, d["rtt_ms"].dump());
  for (const auto& f : out.findings)
    if (f.severity != Severity::info) {
      out.summary = f.message;
      break;
    }
  co_return out;
}

}  // namespace

CheckKind dns_check_kind() { return make_check_kind<DnsParams>("dns", Millis(10000), &run_dns); }

}  // namespace callready::checks
