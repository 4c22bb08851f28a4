#pragma once
// Answers out of a raw DNS message (c-ares' parsers, plus the TTL walk c-ares
// 1.18 lacks for SRV/PTR) and the RFC 2782 order in which clients try SRV targets.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace callready::checks::dns {

struct SrvRecord {
  std::string target;
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
};

struct DnsAnswers {
  std::vector<std::string> addresses;  // A / AAAA
  std::vector<SrvRecord> srv;
  std::vector<std::string> names;  // PTR
  std::optional<std::uint32_t> min_ttl;
  std::string error;  // set when the message did not parse
};

// type: the RR type asked for (ns_t_a, ns_t_aaaa, ns_t_srv, ns_t_ptr).
DnsAnswers parse_answers(const std::vector<unsigned char>& message, int type);

// The smallest TTL among the answer records, if any.
std::optional<std::uint32_t> min_answer_ttl(const std::vector<unsigned char>& message);

// RFC 2782 order: priority ascending; within a priority, the order a weighted
// selection most likely yields (weight descending, weight-0 records last).
// Deterministic, so two reports of the same zone agree.
std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records);

// "203.0.113.5" -> "5.113.0.203.in-addr.arpa", IPv6 -> nibbles under ip6.arpa;
// anything else is returned unchanged.
std::string reverse_name(const std::string& name_or_ip);

// NOERROR, NXDOMAIN, ... for a numeric rcode.
std::string rcode_name(int rcode);

}  // namespace callready::checks::dns
