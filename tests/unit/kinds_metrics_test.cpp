// Each kind's samples from its details (the contract's keys): base units,
// NaN when a value was not measured, and the same series whatever happened.
#include <doctest/doctest.h>

#include <cmath>

#include "probe/registry.hpp"

using namespace callready;
using nlohmann::json;

namespace {

metrics::Samples samples(const std::string& kind, json details) {
  CheckRecord c;
  c.id = "c";
  c.kind = kind;
  c.details = std::move(details);
  return check_metrics(c);
}

double value(const metrics::Samples& s, const std::string& name, const std::string& label = {}) {
  for (const auto& x : s)
    if (x.name == name && (label.empty() || (!x.labels.empty() && x.labels.begin()->second == label))) return x.value;
  FAIL("no sample ", name);
  return 0;
}

}  // namespace

TEST_CASE("dns: lookup time in seconds and the number of answers") {
  auto s = samples("dns", {{"rtt_ms", 21}, {"answers", json::array({"203.0.113.10", "203.0.113.11"})}});
  CHECK(value(s, "callready_dns_lookup_seconds") == doctest::Approx(0.021));
  CHECK(value(s, "callready_dns_answers") == 2);
  CHECK(samples("dns", json::object()).size() == s.size());
  CHECK(std::isnan(value(samples("dns", json::object()), "callready_dns_lookup_seconds")));
}

TEST_CASE("tcp: the connect time only when connected") {
  auto ok = samples("tcp", {{"connected", true}, {"rtt_ms", 29}});
  CHECK(value(ok, "callready_tcp_connect_seconds") == doctest::Approx(0.029));
  auto refused = samples("tcp", {{"connected", false}, {"rtt_ms", 3}, {"error", "refused"}});
  CHECK(std::isnan(value(refused, "callready_tcp_connect_seconds")));
  CHECK(refused.size() == 1);  // whether it connected is the status series
}

TEST_CASE("tls: certificate expiry as Unix time and each version one series") {
  json d = {{"certificate", {{"not_after", "2026-03-01T12:00:00Z"}}},
            {"versions", {{"tls1.2", {{"supported", true}}}, {"tls1.0", {{"supported", false}}}}}};
  auto s = samples("tls", d);
  CHECK(value(s, "callready_tls_cert_expiry_timestamp_seconds") == 1772366400);
  CHECK(value(s, "callready_tls_version_supported", "tls1.2") == 1);
  CHECK(value(s, "callready_tls_version_supported", "tls1.0") == 0);
  CHECK(std::isnan(value(s, "callready_tls_version_supported", "tls1.3")));
  d["certificate"]["not_after"] = "garbage";
  CHECK(std::isnan(value(samples("tls", d), "callready_tls_cert_expiry_timestamp_seconds")));
}

TEST_CASE("stun: round trip and NAT") {
  auto s = samples("stun", {{"reachable", true}, {"rtt_ms", 41}, {"nat", true}});
  CHECK(s.size() == 2);  // whether it answered is the status series
  CHECK(value(s, "callready_stun_rtt_seconds") == doctest::Approx(0.041));
  CHECK(value(s, "callready_stun_nat") == 1);
  CHECK(std::isnan(value(samples("stun", {{"nat", nullptr}}), "callready_stun_nat")));
}

TEST_CASE("udp_range: ports counted from the merged ranges") {
  auto s = samples("udp_range", {{"ports_tested", 200},
                                 {"open", {"8500-8599", "8637-8699"}},
                                 {"blocked", {"8600-8636"}},
                                 {"rejected", json::array({"19600"})},
                                 {"loss_estimate", 0.02}});
  CHECK(value(s, "callready_udp_ports_open") == 163);
  CHECK(value(s, "callready_udp_ports_blocked") == 37);
  CHECK(value(s, "callready_udp_ports_rejected") == 1);
  CHECK(value(s, "callready_udp_loss_ratio") == doctest::Approx(0.02));
  CHECK(std::isnan(value(samples("udp_range", {{"open", {"9-x"}}}), "callready_udp_ports_open")));
}

TEST_CASE("pmtu: the path MTU in bytes, ICMP seen, black hole") {
  auto s = samples("pmtu", {{"path_mtu", 1420}, {"icmp_seen", true}, {"black_hole", false}});
  CHECK(value(s, "callready_path_mtu_bytes") == 1420);
  CHECK(value(s, "callready_pmtu_icmp_seen") == 1);
  CHECK(value(s, "callready_pmtu_black_hole") == 0);
  CHECK(std::isnan(value(samples("pmtu", {{"path_mtu", nullptr}}), "callready_path_mtu_bytes")));
}

TEST_CASE("sip_alg: detected and how many fields arrived changed") {
  auto s = samples("sip_alg", {{"alg_detected", true}, {"rewritten", {"Via", "Contact", "c="}}});
  CHECK(value(s, "callready_sip_alg_detected") == 1);
  CHECK(value(s, "callready_sip_alg_rewritten_fields") == 3);
}

TEST_CASE("nat_timeout: lifetime bounds per flow in seconds, NaN for a bound not found") {
  json flow = {{"lifetime_min_s", 40}, {"lifetime_max_s", 50}, {"max_s", 80}};
  json alive = {{"lifetime_min_s", 150}, {"lifetime_max_s", nullptr}, {"max_s", 150}};
  auto s = samples("nat_timeout", {{"udp", flow}, {"udp_single", alive}, {"tcp", nullptr}});
  CHECK(s.size() == 9);
  CHECK(value(s, "callready_nat_binding_lifetime_min_seconds", "udp") == 40);
  CHECK(value(s, "callready_nat_binding_lifetime_max_seconds", "udp") == 50);
  CHECK(value(s, "callready_nat_binding_idle_tried_seconds", "udp") == 80);
  CHECK(value(s, "callready_nat_binding_lifetime_min_seconds", "udp_single") == 150);
  CHECK(std::isnan(value(s, "callready_nat_binding_lifetime_max_seconds", "udp_single")));
  CHECK(std::isnan(value(s, "callready_nat_binding_lifetime_min_seconds", "tcp")));
  CHECK(samples("nat_timeout", json::object()).size() == 9);
}

TEST_CASE("dscp: preserved per class and direction, unknown as NaN") {
  json ef = {{"name", "EF"},
             {"dscp", 46},
             {"transport", "udp"},
             {"family", "ipv4"},
             {"upstream", {{"verdict", "preserved"}}},
             {"downstream", {{"verdict", "bleached"}}}};
  json cs3 = {{"name", "CS3"},
              {"dscp", 24},
              {"transport", "tcp"},
              {"family", "ipv6"},
              {"upstream", {{"verdict", "unknown"}}},
              {"downstream", {{"verdict", "remarked"}}}};
  auto s = samples("dscp", {{"classes", {ef, cs3}}});
  REQUIRE(s.size() == 4);
  CHECK(s[0].labels.at("class") == "EF");
  CHECK(s[0].labels.at("direction") == "upstream");
  CHECK(s[0].value == 1);
  CHECK(s[1].labels.at("direction") == "downstream");
  CHECK(s[1].value == 0);
  CHECK(std::isnan(s[2].value));
  CHECK(s[2].labels.count("family") == 0);
  CHECK(s[3].value == 0);
  CHECK(samples("dscp", json::object()).empty());
}

TEST_CASE("dscp: the families fold into one series, a re-mark in either wins") {
  json v4 = {{"name", "EF"},
             {"transport", "udp"},
             {"family", "ipv4"},
             {"upstream", {{"verdict", "preserved"}}},
             {"downstream", {{"verdict", "preserved"}}}};
  json v6 = v4;
  v6["family"] = "ipv6";
  v6["downstream"]["verdict"] = "remarked";
  v6["upstream"]["verdict"] = "unknown";
  auto s = samples("dscp", {{"classes", {v4, v6}}});
  REQUIRE(s.size() == 2);
  CHECK(s[0].labels.at("direction") == "upstream");
  CHECK(s[0].value == 1);  // an unknown family does not hide the other's answer
  CHECK(s[1].value == 0);
}
