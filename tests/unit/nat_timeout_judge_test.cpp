// nat_timeout's ladder, judge, details and view from hand-built results:
// every finding code with its severity and operation, the lifetime bounds,
// the contract's details keys; no sockets.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "checks/nat_timeout/nat_timeout_check.hpp"

using namespace callready;
using namespace callready::checks;
using nat_timeout::Lifetime;
using nat_timeout::RungOutcome;

namespace {

NatTimeoutParams params() {
  NatTimeoutParams p;
  p.host = "203.0.113.10";
  return p;
}

// A lifetime over `rungs` where idle times up to `survives` reach the client.
Lifetime lifetime(const std::vector<int>& rungs, int survives) {
  std::vector<bool> arrived, canary;
  for (int t : rungs) {
    arrived.push_back(t <= survives);
    canary.push_back(true);
  }
  return nat_timeout::combine(rungs, arrived, canary);
}

const std::vector<int> kLadder = {15, 30, 45, 60, 90, 120, 150};

NatTimeoutResult measured(int udp_call, int udp_single, int tcp, std::vector<int> rungs = kLadder) {
  NatTimeoutResult r;
  r.host = "203.0.113.10";
  r.address = "203.0.113.10";
  r.max_s_requested = rungs.back();
  r.udp = NatTimeoutProtocol{19560, lifetime(rungs, udp_call)};
  r.udp_single = NatTimeoutProtocol{19560, lifetime(rungs, udp_single)};
  r.tcp = NatTimeoutProtocol{8443, lifetime(rungs, tcp)};
  return r;
}

std::vector<std::string> codes(const Judgement& j) {
  std::vector<std::string> out;
  for (const auto& f : j.findings) out.push_back(f.code);
  return out;
}

const Finding& only(const Judgement& j, const std::string& code) {
  const Finding* found = nullptr;
  for (const auto& f : j.findings)
    if (f.code == code) {
      REQUIRE_MESSAGE(found == nullptr, "two findings " << code);
      found = &f;
    }
  REQUIRE_MESSAGE(found != nullptr, "no finding " << code);
  return *found;
}

}  // namespace

TEST_CASE("nat_timeout ladder: rungs up to max_s, max_s itself, sorted and unique") {
  CHECK(nat_timeout::plan_ladder({}, 150) == std::vector<int>{15, 30, 45, 60, 90, 120, 150});
  CHECK(nat_timeout::plan_ladder({}, 120) == std::vector<int>{15, 30, 45, 60, 90, 120});
  CHECK(nat_timeout::plan_ladder({50, 10, 10, 0, 200}, 80) == std::vector<int>{10, 50, 80});
  CHECK(nat_timeout::plan_ladder({}, 0).empty());
  CHECK(nat_timeout::default_ladder().back() == 7200);
}

TEST_CASE("nat_timeout bounds: longest reached, shortest expired, unknown rungs ignored") {
  auto l = lifetime(kLadder, 45);
  CHECK(l.lifetime_min_s() == 45);
  CHECK(l.lifetime_max_s() == 60);
  CHECK(l.max_s() == 150);
  CHECK(l.consistent());
  CHECK(l.range() == "45-60 s");
  auto none = lifetime(kLadder, 1000);
  CHECK(none.lifetime_min_s() == 150);
  CHECK_FALSE(none.lifetime_max_s().has_value());
  CHECK(none.range() == "at least 150 s");
  auto all = lifetime(kLadder, 0);
  CHECK_FALSE(all.lifetime_min_s().has_value());
  CHECK(all.range() == "below 15 s");
  // The canary's reply for 30 s is missing: that rung cannot be told.
  auto gap = nat_timeout::combine({15, 30, 45}, {true, false, false}, {true, false, true});
  CHECK(gap.rungs[1].outcome == RungOutcome::unknown);
  CHECK(gap.unknown() == 1);
  CHECK(gap.lifetime_max_s() == 45);
  CHECK(gap.lifetime_min_s() == 15);
}

TEST_CASE("nat_timeout passes when every lifetime meets its line") {
  auto p = params();
  p.max_s = 1800;
  std::vector<int> rungs = {15, 30, 60, 120, 600, 1800};
  auto j = judge_nat_timeout(measured(7200, 7200, 7200, rungs), p);
  CHECK(j.findings.empty());
  CHECK(j.summary.find("UDP call-like at least 1800 s") != std::string::npos);
  CHECK(j.summary.find("TCP at least 1800 s") != std::string::npos);
}

TEST_CASE("nat_timeout.udp_short: a call-like binding below 120 s is critical") {
  auto j = judge_nat_timeout(measured(45, 1000, 1000), params());
  const auto& f = only(j, "nat_timeout.udp_short");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("45-60 s") != std::string::npos);
  CHECK(f.remediation.find("at least 120 s") != std::string::npos);
  CHECK(j.summary.find("UDP call-like 45-60 s") != std::string::npos);
}

TEST_CASE("nat_timeout.udp_single_short: a REGISTER-like binding below 120 s is critical") {
  auto j = judge_nat_timeout(measured(1000, 15, 1000), params());
  const auto& f = only(j, "nat_timeout.udp_single_short");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("15-30 s") != std::string::npos);
  CHECK(f.message.find("REGISTER") != std::string::npos);
}

TEST_CASE("nat_timeout: a binding that expires only at 150 s (survived 120 s) passes") {
  auto j = judge_nat_timeout(measured(120, 120, 1000), params());
  for (const auto& c : codes(j)) CHECK(c != "nat_timeout.udp_short");
  for (const auto& c : codes(j)) CHECK(c != "nat_timeout.udp_single_short");
}

TEST_CASE("nat_timeout.tcp_short: a lost idle connection is critical and says reset or silence") {
  auto r = measured(1000, 1000, 60);
  for (auto& rung : r.tcp->lifetime.rungs)
    if (rung.outcome == RungOutcome::expired) rung.after = "reset";
  auto j = judge_nat_timeout(r, params());
  const auto& f = only(j, "nat_timeout.tcp_short");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("60-90 s") != std::string::npos);
  CHECK(f.message.find("reset") != std::string::npos);
  for (auto& rung : r.tcp->lifetime.rungs)
    if (rung.outcome == RungOutcome::expired) rung.after = "silence";
  CHECK(only(judge_nat_timeout(r, params()), "nat_timeout.tcp_short").message.find("silent drop") != std::string::npos);
}

TEST_CASE("nat_timeout.tcp_unproven: nothing expired within 150 s, 1800 s not provable: says how") {
  auto j = judge_nat_timeout(measured(1000, 1000, 1000), params());
  CHECK(codes(j) == std::vector<std::string>{"nat_timeout.tcp_unproven"});
  const auto& f = only(j, "nat_timeout.tcp_unproven");
  CHECK(f.severity == Severity::info);
  CHECK(f.operation == Operation::none);
  CHECK(f.message.find("150 s") != std::string::npos);
  CHECK(f.message.find("max_s=1800") != std::string::npos);
  CHECK(j.summary.find("TCP at least 150 s") != std::string::npos);
}

TEST_CASE("nat_timeout.udp_unproven: a run shorter than 120 s proves nothing about the UDP line") {
  auto j = judge_nat_timeout(measured(1000, 1000, 1000, {15, 30, 60}), params());
  const auto& f = j.findings.front();
  CHECK(f.code == "nat_timeout.udp_unproven");
  CHECK(f.severity == Severity::info);
  auto all = codes(j);
  CHECK(std::count(all.begin(), all.end(), "nat_timeout.udp_unproven") == 2);
}

TEST_CASE("nat_timeout.inconsistent: a longer idle time reached after a shorter one did not") {
  auto r = measured(1000, 1000, 1000);
  r.udp->lifetime = nat_timeout::combine(kLadder, {true, false, true, true, true, true, true},
                                         std::vector<bool>(kLadder.size(), true));
  auto j = judge_nat_timeout(r, params());
  const auto& f = only(j, "nat_timeout.inconsistent");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("150 s") != std::string::npos);
  CHECK_FALSE(r.udp->lifetime.consistent());
  // The lost 30 s rung is loss, not the lifetime: no expiry finding, and the
  // bounds say what the reached rungs prove.
  CHECK(r.udp->lifetime.contradicted_s() == 30);
  CHECK_FALSE(r.udp->lifetime.lifetime_max_s().has_value());
  for (const auto& finding : j.findings) CHECK(finding.severity != Severity::critical);
}

TEST_CASE("nat_timeout.unreachable: a protocol that carried nothing is a warning, not a lifetime") {
  auto r = measured(1000, 1000, 1000);
  r.tcp->lifetime = Lifetime{};
  r.tcp->lifetime.unreachable = "connect refused";
  auto j = judge_nat_timeout(r, params());
  const auto& f = only(j, "nat_timeout.unreachable");
  CHECK(f.severity == Severity::warning);
  CHECK(f.operation == Operation::connect);
  CHECK(f.message.find("TCP") != std::string::npos);
  CHECK(f.message.find("connect refused") != std::string::npos);
  r.udp->lifetime = Lifetime{};
  r.udp->lifetime.unreachable = "ICMP port unreachable from 203.0.113.1";
  CHECK(judge_nat_timeout(r, params()).findings.front().operation == Operation::receive);
}

TEST_CASE("nat_timeout.no_address: the responder's name did not resolve") {
  NatTimeoutResult r;
  r.host = "responder.example.test";
  r.unresolved = TargetAddresses{"responder.example.test", {}, net::DnsFailure::nxdomain, ""};
  auto p = params();
  p.host = "responder.example.test";
  auto j = judge_nat_timeout(r, p);
  const auto& f = only(j, "nat_timeout.no_address");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::resolve);
}

TEST_CASE("nat_timeout details: the contract's keys for udp, udp_single and tcp") {
  auto r = measured(45, 15, 60);
  r.mapped_udp = "203.0.113.1:40000";
  r.tcp->lifetime.rungs[4].after = "silence";
  nlohmann::json d = r;
  for (const char* key : {"udp", "udp_single", "tcp"}) {
    INFO(key);
    REQUIRE(d[key].is_object());
    CHECK(d[key].contains("lifetime_min_s"));
    CHECK(d[key].contains("lifetime_max_s"));
    CHECK(d[key]["max_s"] == 150);
  }
  CHECK(d["udp"]["lifetime_min_s"] == 45);
  CHECK(d["udp"]["lifetime_max_s"] == 60);
  CHECK(d["udp_single"]["lifetime_min_s"] == 15);
  CHECK(d["udp_single"]["lifetime_max_s"] == 30);
  CHECK(d["tcp"]["lifetime_max_s"] == 90);
  CHECK(d["tcp"]["rungs"][4] == nlohmann::json{{"idle_s", 90}, {"outcome", "expired"}, {"after", "silence"}});
  CHECK(d["thresholds"] == nlohmann::json{{"udp_min_s", 120}, {"tcp_min_s", 1800}});
  auto none = measured(1000, 1000, 1000);
  none.tcp.reset();
  nlohmann::json n = none;
  CHECK(n["udp"]["lifetime_max_s"].is_null());
  CHECK(n["tcp"].is_null());
}

TEST_CASE("nat_timeout view: one row per protocol and rung, coloured by outcome") {
  nlohmann::json d = measured(45, 15, 1000);
  auto v = nat_timeout_view(d);
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks.front());
  CHECK(t.rows.size() == 3 * kLadder.size());
  CHECK(t.rows[2][2].tone == view::Tone::good);  // UDP call-like 45 s reached
  CHECK(t.rows[3][2].tone == view::Tone::bad);   // 60 s expired, below 120
  CHECK(t.rows[3][3].text == "45 to 60");
  CHECK(v.shown_keys == std::vector<std::string>{"udp", "udp_single", "tcp"});
  CHECK(nat_timeout_view(nlohmann::json::object()).blocks.empty());
}
