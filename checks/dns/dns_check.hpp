#pragma once
// `dns`: A, AAAA, SRV (RFC 2782 order, optional target resolution) and PTR.
// measure() asks the resolver and keeps what came back (DnsResult);
// judge_dns() decides the findings from it, without sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/dns/dns_records.hpp"
#include "probe/check.hpp"
#include "probe/net/cidr.hpp"
#include "probe/net/resolver.hpp"

namespace callready::checks {

CheckKind dns_check_kind();

namespace dns {

struct DnsParams {
  std::string name;
  std::string type;  // A, AAAA, SRV, PTR
  bool resolve_targets = false;
  std::optional<long long> max_addresses_per_target;
  std::vector<net::Cidr> expect_in_subnets;
  long long min_answers = 1;
  long long query_timeout_ms = 4000;
  std::string transport = "udp";           // udp (c-ares, TCP after a truncated answer) or tcp (TCP 53 only)
  std::optional<long long> max_addresses;  // A/AAAA: the name may map to at most this many addresses

  static DnsParams parse(ParamReader& r);
  std::string target() const;
};

// An SRV target's own A and AAAA records.
struct SrvTarget {
  std::string target;
  std::vector<std::string> addresses;
  net::DnsFailure failure = net::DnsFailure::none;  // why there are none, when there are none
};

struct DnsResult {
  std::string name;        // as asked (an IP address for PTR)
  std::string query_name;  // as queried (the reverse name for PTR)
  std::string type;
  std::string server;  // which server answered, for messages
  // none: records came back; no_data: NOERROR without records; else why not.
  net::DnsFailure failure = net::DnsFailure::other;
  int rcode = -1;
  std::optional<double> rtt_ms;  // absent when no answer came
  std::optional<std::uint32_t> ttl;
  long long timeout_ms = 0;                       // the query's time limit
  std::string error;                              // the resolver's words when no answer came
  std::string parse_error;                        // an answer came but did not parse
  std::vector<std::string> addresses;             // A / AAAA
  std::vector<SrvRecord> srv;                     // in RFC 2782 order
  std::vector<std::string> names;                 // PTR
  std::optional<std::vector<SrvTarget>> targets;  // when SRV targets were resolved
  std::vector<std::string> outside_subnets;       // addresses outside expect_in_subnets
  // The transport of the last attempt: udp, or tcp after a truncated UDP
  // answer (TC set). When the TCP retry failed: its step and its error.
  std::string transport = "udp";
  bool truncated = false;
  Operation tcp_failed = Operation::none;
  std::string tcp_error;

  std::size_t answer_count() const { return addresses.size() + srv.size() + names.size(); }
};

void to_json(nlohmann::json& j, const DnsResult& r);

// The addresses not inside any of `nets` (unparsable ones are left out).
std::vector<std::string> addresses_outside(const std::vector<std::string>& addresses,
                                           const std::vector<net::Cidr>& nets);

Judgement judge_dns(const DnsResult& r, const DnsParams& p);

// The Answers table (SRV: priority, weight, port, target; A/AAAA: address; PTR: name).
view::View dns_view(const nlohmann::json& details);

}  // namespace dns
}  // namespace callready::checks
