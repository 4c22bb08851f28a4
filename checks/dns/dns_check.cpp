#include "checks/dns/dns_check.hpp"

#include <arpa/nameser.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "checks/dns/dns_metrics.hpp"
#include "checks/dns/dns_transport.hpp"

namespace callready::checks {

namespace dns {

DnsParams DnsParams::parse(ParamReader& r) {
  DnsParams p;
  p.name = r.string("name");
  p.type = r.choice("type", {"A", "AAAA", "SRV", "PTR"});
  p.resolve_targets = r.boolean_or("resolve_targets", false);
  p.max_addresses_per_target = r.opt_integer("max_addresses_per_target", 1, 64);
  auto nets = r.string_list_or("expect_in_subnets");
  for (std::size_t i = 0; i < nets.size(); ++i) {
    if (auto c = net::Cidr::parse(nets[i]))
      p.expect_in_subnets.push_back(*c);
    else
      r.error(fmt::format("expect_in_subnets[{}]", i),
              "expected a CIDR such as 203.0.113.0/24, got \"" + nets[i] + "\"");
  }
  p.min_answers = r.integer_or("min_answers", 0, 1000, 1);
  p.query_timeout_ms = r.integer_or("query_timeout_ms", 100, 60000, 4000);
  p.transport = r.choice("transport", {"udp", "tcp"}, "udp");
  p.max_addresses = r.opt_integer("max_addresses", 1, 64);
  if (p.max_addresses && p.type != "A" && p.type != "AAAA" && r.ok())
    r.error("max_addresses", "only applies to types A and AAAA");
  if ((p.resolve_targets || p.max_addresses_per_target) && p.type != "SRV" && r.ok())
    r.error("resolve_targets", "only applies to type SRV");
  return p;
}

std::string DnsParams::target() const { return fmt::format("{} {}", name, type); }

namespace {

using net::DnsFailure;

int type_code(const std::string& t) {
  if (t == "A") return ns_t_a;
  if (t == "AAAA") return ns_t_aaaa;
  if (t == "SRV") return ns_t_srv;
  return ns_t_ptr;
}

// Each distinct SRV target's A and AAAA records.
boost::asio::awaitable<std::vector<SrvTarget>> resolve_srv_targets(const std::vector<SrvRecord>& records,
                                                                   Millis timeout, CheckContext& ctx) {
  std::vector<SrvTarget> out;
  for (const auto& s : records) {
    if (s.target.empty() || s.target == ".") continue;
    if (std::any_of(out.begin(), out.end(), [&](const SrvTarget& t) { return t.target == s.target; })) continue;
    SrvTarget t{s.target, {}, DnsFailure::no_data};
    for (int type : {ns_t_a, ns_t_aaaa}) {
      auto r = co_await ctx.resolver.query(s.target, type, ctx.budget(timeout));
      if (r.failure == DnsFailure::none) {
        for (auto& a : parse_answers(r.message, type).addresses) t.addresses.push_back(a);
      } else if (r.failure != DnsFailure::no_data && t.failure == DnsFailure::no_data) {
        t.failure = r.failure;  // the first real failure says why
      }
    }
    if (!t.addresses.empty()) t.failure = DnsFailure::none;
    out.push_back(std::move(t));
  }
  co_return out;
}

// c-ares sends no EDNS, so a UDP answer is at most 512 bytes (RFC 1035
// §4.2.1): a larger one came over TCP, after a truncated UDP answer.
constexpr std::size_t kUdpAnswerLimit = 512;

// c-ares had no answer. When the server answers over UDP with TC set, the
// retry over TCP is what failed: ask once over each transport to say so.
boost::asio::awaitable<void> diagnose_no_answer(DnsResult& res, int type, CheckContext& ctx) {
  auto server = first_server(res.server);
  if (!server) co_return;
  auto question = make_question(res.query_name, type);
  if (question.empty()) co_return;
  // Short: a server that truncates answers at once; a silent one should not
  // make the failure much slower than it already was.
  auto udp_limit = ctx.budget(Millis(1000));
  auto over_udp = co_await ask_over_udp(*server, question, udp_limit);
  if (!over_udp.answered && over_udp.garbled > 0) {
    // c-ares drops what does not parse and waits: the server did answer, with garbage.
    res.failure = DnsFailure::bad_response;
    res.error = fmt::format("{} datagram(s) came back that are not a DNS reply to the question", over_udp.garbled);
    co_return;
  }
  if (!over_udp.answered || !over_udp.truncated) co_return;
  res.truncated = true;
  res.transport = "tcp";
  auto tcp_limit = ctx.budget(Millis(2000));
  auto over_tcp = co_await ask_over_tcp(*server, question, tcp_limit);
  if (over_tcp.answered) {  // it works now: keep this answer
    res.failure = failure_of_rcode(over_tcp.rcode);
    res.rcode = over_tcp.rcode;
    res.error.clear();
    auto answers = parse_answers(over_tcp.message, type);
    res.ttl = answers.min_ttl;
    res.addresses = std::move(answers.addresses);
    res.srv = order_srv(std::move(answers.srv));
    res.names = std::move(answers.names);
    if (res.failure == DnsFailure::none) res.parse_error = answers.error;
    co_return;
  }
  res.tcp_failed = over_tcp.failed;
  res.tcp_error = over_tcp.error;
}

// `transport: tcp`: the question over TCP 53 to the resolver's first server
// (RFC 7766), as a client that only uses TCP would ask it.
boost::asio::awaitable<net::DnsResponse> ask_tcp_only(std::string name, int type, Millis timeout, CheckContext& ctx) {
  net::DnsResponse out;
  out.server = ctx.resolver.servers();
  auto server = first_server(out.server);
  auto question = make_question(name, type);
  if (!server || question.empty()) {
    out.error = server ? "the name cannot be put in a question" : "no DNS server to ask over TCP";
    co_return out;
  }
  auto start = Clock::now();
  auto asking = ask_over_tcp(*server, question, timeout);
  auto a = co_await std::move(asking);
  out.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  if (!a.answered) {
    bool silent = !a.failure || *a.failure == net::NetFailure::timeout;
    out.failure = silent ? DnsFailure::timeout : DnsFailure::unreachable;
    out.error = "over TCP: " + a.error;
    co_return out;
  }
  out.rcode = a.rcode;
  out.failure = failure_of_rcode(a.rcode);
  out.message = std::move(a.message);
  co_return out;
}

boost::asio::awaitable<Measured<DnsResult>> measure_dns(DnsParams p, CheckContext& ctx) {
  Measured<DnsResult> m;
  auto& res = m.result;
  res.name = p.name;
  res.type = p.type;
  res.query_name = p.type == "PTR" ? reverse_name(p.name) : p.name;
  auto timeout = ctx.budget(Millis(p.query_timeout_ms));
  res.timeout_ms = timeout.count();

  net::DnsResponse r;
  if (p.transport == "tcp") {
    auto asking = ask_tcp_only(res.query_name, type_code(p.type), timeout, ctx);
    r = co_await std::move(asking);
    res.transport = "tcp";
  } else {
    r = co_await ctx.resolver.query(res.query_name, type_code(p.type), timeout);
  }
  res.server = r.server;
  res.rcode = r.rcode;
  res.failure = r.failure;
  res.error = r.error;
  if (r.failure != DnsFailure::timeout) res.rtt_ms = std::round(r.rtt.count() / 100.0) / 10.0;

  if (p.transport == "tcp") {
    // asked over TCP only: nothing to diagnose or infer about UDP
  } else if (r.failure == DnsFailure::timeout || r.failure == DnsFailure::unreachable) {
    co_await diagnose_no_answer(res, type_code(p.type), ctx);
  } else if (r.message.size() > kUdpAnswerLimit) {
    res.transport = "tcp";
    res.truncated = true;
  }
  if (!r.message.empty()) {
    auto answers = parse_answers(r.message, type_code(p.type));
    res.ttl = answers.min_ttl;
    res.addresses = std::move(answers.addresses);
    res.srv = order_srv(std::move(answers.srv));
    res.names = std::move(answers.names);
    if (r.failure == DnsFailure::none) res.parse_error = answers.error;
  }
  if (res.failure == DnsFailure::none && res.parse_error.empty() && res.answer_count() == 0)
    res.failure = DnsFailure::no_data;
  if (res.failure != DnsFailure::none) co_return m;

  std::vector<std::string> all_addresses = res.addresses;
  if (p.type == "SRV" && (p.resolve_targets || p.max_addresses_per_target)) {
    auto resolving = resolve_srv_targets(res.srv, timeout, ctx);
    res.targets = co_await std::move(resolving);
    for (const auto& t : *res.targets)
      all_addresses.insert(all_addresses.end(), t.addresses.begin(), t.addresses.end());
  }
  res.outside_subnets = addresses_outside(all_addresses, p.expect_in_subnets);
  co_return m;
}

}  // namespace
}  // namespace dns

CheckKind dns_check_kind() {
  return make_check_kind<dns::DnsParams, dns::DnsResult>(
      "dns", Millis(10000),
      KindFunctions<dns::DnsParams, dns::DnsResult>{&dns::measure_dns, &dns::judge_dns, &dns::dns_view, &dns_metrics});
}

}  // namespace callready::checks
