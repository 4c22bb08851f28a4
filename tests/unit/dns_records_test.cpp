// SRV ordering (RFC 2782), reverse names, rcodes, and answers parsed from raw messages.
#include "checks/dns/dns_records.hpp"

#include <arpa/nameser.h>
#include <doctest/doctest.h>

using namespace callready::checks::dns;

namespace {
// A DNS response for `name` with the given answer records (name compressed to the question).
struct Rr {
  std::uint16_t type;
  std::uint32_t ttl;
  std::vector<unsigned char> rdata;
};
std::vector<unsigned char> encode_name(const std::string& name) {
  std::vector<unsigned char> out;
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<unsigned char>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}
std::vector<unsigned char> response(const std::string& name, std::uint16_t qtype, const std::vector<Rr>& answers,
                                    int rcode = 0) {
  std::vector<unsigned char> m = {0x12, 0x34, 0x81, static_cast<unsigned char>(0x80 | rcode),
                                  0,    1,    0,    static_cast<unsigned char>(answers.size()),
                                  0,    0,    0,    0};
  auto qn = encode_name(name);
  m.insert(m.end(), qn.begin(), qn.end());
  m.insert(m.end(), {static_cast<unsigned char>(qtype >> 8), static_cast<unsigned char>(qtype), 0, 1});
  for (const auto& a : answers) {
    m.insert(m.end(), {0xc0, 0x0c, static_cast<unsigned char>(a.type >> 8), static_cast<unsigned char>(a.type), 0, 1,
                       static_cast<unsigned char>(a.ttl >> 24), static_cast<unsigned char>(a.ttl >> 16),
                       static_cast<unsigned char>(a.ttl >> 8), static_cast<unsigned char>(a.ttl),
                       static_cast<unsigned char>(a.rdata.size() >> 8), static_cast<unsigned char>(a.rdata.size())});
    m.insert(m.end(), a.rdata.begin(), a.rdata.end());
  }
  return m;
}
std::vector<unsigned char> srv_rdata(std::uint16_t prio, std::uint16_t weight, std::uint16_t port,
                                     const std::string& target) {
  std::vector<unsigned char> r = {static_cast<unsigned char>(prio >> 8),   static_cast<unsigned char>(prio),
                                  static_cast<unsigned char>(weight >> 8), static_cast<unsigned char>(weight),
                                  static_cast<unsigned char>(port >> 8),   static_cast<unsigned char>(port)};
  auto n = encode_name(target);
  r.insert(r.end(), n.begin(), n.end());
  return r;
}
}  // namespace

TEST_CASE("SRV records come out in the order a client tries them") {
  std::vector<SrvRecord> in = {
      {"c.example.test", 5061, 20, 50}, {"zero.example.test", 5061, 10, 0}, {"a.example.test", 5061, 10, 10},
      {"b.example.test", 5061, 10, 60}, {"d.example.test", 5061, 5, 0},
  };
  auto out = order_srv(in);
  REQUIRE(out.size() == 5);
  CHECK(out[0].target == "d.example.test");     // priority 5
  CHECK(out[1].target == "b.example.test");     // priority 10, weight 60
  CHECK(out[2].target == "a.example.test");     // priority 10, weight 10
  CHECK(out[3].target == "zero.example.test");  // priority 10, weight 0 last
  CHECK(out[4].target == "c.example.test");     // priority 20
  // Deterministic: the same zone always renders the same order.
  std::reverse(in.begin(), in.end());
  auto again = order_srv(in);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(again[i].target == out[i].target);
}

TEST_CASE("reverse names for PTR") {
  CHECK(reverse_name("203.0.113.10") == "10.113.0.203.in-addr.arpa");
  CHECK(reverse_name("2001:db8::1") == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  CHECK(reverse_name("sbc.example.test") == "sbc.example.test");
}

TEST_CASE("rcode names") {
  CHECK(rcode_name(0) == "NOERROR");
  CHECK(rcode_name(2) == "SERVFAIL");
  CHECK(rcode_name(3) == "NXDOMAIN");
  CHECK(rcode_name(5) == "REFUSED");
  CHECK(rcode_name(9) == "RCODE9");
  CHECK(rcode_name(-1) == "");
}

TEST_CASE("answers and the smallest TTL are read from a raw message") {
  auto a = response("sbc.example.test", ns_t_a, {{ns_t_a, 300, {203, 0, 113, 10}}, {ns_t_a, 60, {203, 0, 113, 11}}});
  auto parsed = parse_answers(a, ns_t_a);
  CHECK(parsed.error.empty());
  CHECK(parsed.addresses == std::vector<std::string>{"203.0.113.10", "203.0.113.11"});
  CHECK(parsed.min_ttl == 60u);

  auto srv = response("_sips._tcp.example.test", ns_t_srv,
                      {{ns_t_srv, 120, srv_rdata(10, 60, 5061, "sbc1.example.test")},
                       {ns_t_srv, 30, srv_rdata(20, 10, 5062, "sbc2.example.test")}});
  auto s = parse_answers(srv, ns_t_srv);
  REQUIRE(s.srv.size() == 2);
  CHECK(s.srv[0].target == "sbc1.example.test");
  CHECK(s.srv[0].port == 5061);
  CHECK(s.srv[1].priority == 20);
  CHECK(s.min_ttl == 30u);

  auto ptr = response("10.113.0.203.in-addr.arpa", ns_t_ptr, {{ns_t_ptr, 3600, encode_name("sbc1.example.test")}});
  auto p = parse_answers(ptr, ns_t_ptr);
  CHECK(p.names == std::vector<std::string>{"sbc1.example.test"});
}

TEST_CASE("every A and AAAA record is read, not the first 64") {
  std::vector<Rr> a, aaaa;
  for (unsigned char i = 1; i <= 70; ++i) {
    a.push_back({ns_t_a, 300, {198, 51, 100, i}});
    std::vector<unsigned char> v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i};
    aaaa.push_back({ns_t_aaaa, 300, v6});
  }
  auto four = parse_answers(response("many.example.test", ns_t_a, a), ns_t_a);
  CHECK(four.error.empty());
  REQUIRE(four.addresses.size() == 70);
  CHECK(four.addresses.front() == "198.51.100.1");
  CHECK(four.addresses.back() == "198.51.100.70");
  auto six = parse_answers(response("many.example.test", ns_t_aaaa, aaaa), ns_t_aaaa);
  CHECK(six.error.empty());
  REQUIRE(six.addresses.size() == 70);
  CHECK(six.addresses.back() == "2001:db8::46");
}

TEST_CASE("truncated or garbage messages are rejected, never read past the end") {
  auto a = response("sbc.example.test", ns_t_a, {{ns_t_a, 300, {203, 0, 113, 10}}});
  for (std::size_t cut = 0; cut < a.size(); ++cut) {
    std::vector<unsigned char> part(a.begin(), a.begin() + static_cast<long>(cut));
    auto r = parse_answers(part, ns_t_a);
    CHECK(r.addresses.empty());
    (void)min_answer_ttl(part);
  }
  std::vector<unsigned char> junk(64, 0xff);
  CHECK_FALSE(parse_answers(junk, ns_t_srv).error.empty());
}
