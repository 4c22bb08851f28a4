// Root causes: one failure that explains several checks, named once.
#include "probe/root_cause.hpp"

#include <doctest/doctest.h>

#include "checks/common/resolve_step.hpp"
#include "probe/scoring.hpp"

using namespace callready;

namespace {
CheckRecord stopped_by(std::string id, Cause cause) {
  CheckRecord r;
  r.id = std::move(id);
  r.target = r.id + ".example.test:443";
  r.status = Status::error;
  r.error = CheckError{ErrorReason::dependency, Operation::resolve, "Cannot reach " + r.id, std::move(cause)};
  return r;
}
CheckRecord failed(std::string id, std::string target, Operation op) {
  CheckRecord r;
  r.id = std::move(id);
  r.target = std::move(target);
  r.status = Status::fail;
  r.findings = {Finding{Severity::critical, "x.unreachable", "no answer", "", "", op}};
  return r;
}
const Cause kNoDns{"dns.unreachable", "DNS does not work here (the DNS server this machine uses cannot be reached)"};
}  // namespace

TEST_CASE("checks stopped by the same failed step share one root cause") {
  std::vector<CheckRecord> checks;
  for (int i = 0; i < 10; ++i) checks.push_back(stopped_by("check" + std::to_string(i), kNoDns));
  checks.push_back(stopped_by("sbc", Cause{"dns.nxdomain", "sbc.example.test does not exist in DNS (NXDOMAIN)"}));
  CheckRecord passed;
  passed.id = "ok";
  passed.status = Status::pass;
  checks.push_back(passed);
  auto causes = find_root_causes(checks);
  REQUIRE(causes.size() == 2);
  CHECK(causes[0].code == "dns.unreachable");
  CHECK(causes[0].message == kNoDns.message);
  CHECK(causes[0].checks.size() == 10);
  CHECK(causes[0].checks.front() == "check0");
  CHECK(causes[1].code == "dns.nxdomain");
  CHECK(causes[1].checks == std::vector<std::string>{"sbc"});
}

TEST_CASE("the same error on several checks is one cause, a lone error is not") {
  auto setup = [](std::string id) {
    CheckRecord r;
    r.id = std::move(id);
    r.status = Status::error;
    r.error = CheckError{ErrorReason::setup, Operation::control,
                         "control: connect/read 198.18.0.1:7070: Connection refused: is `callready respond` running "
                         "there, and is its control port reachable?"};
    return r;
  };
  CheckRecord timed_out;
  timed_out.id = "slow";
  timed_out.status = Status::error;
  timed_out.error = CheckError{ErrorReason::timeout, Operation::none, "did not finish"};
  auto causes = find_root_causes({setup("stun"), setup("pmtu"), setup("sip-alg"), timed_out});
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].code == "setup.control");
  CHECK(causes[0].message.rfind("The responder cannot be used (control: connect/read 198.18.0.1:7070", 0) == 0);
  CHECK(causes[0].message.find("is `callready respond` running") != std::string::npos);
  CHECK(causes[0].checks == std::vector<std::string>{"stun", "pmtu", "sip-alg"});
}

TEST_CASE("a host that every check failed to reach is one cause") {
  auto causes = find_root_causes({failed("tcp-5061", "203.0.113.10:5061", Operation::connect),
                                  failed("stun-3478", "203.0.113.10:3478/udp", Operation::receive),
                                  failed("tcp-443", "203.0.113.11:443", Operation::connect)});
  REQUIRE(causes.size() == 1);  // .11 had one check only: its own finding says it
  CHECK(causes[0].code == "host.unreachable");
  CHECK(causes[0].message == "203.0.113.10 cannot be reached from here");
  CHECK(causes[0].checks == std::vector<std::string>{"tcp-5061", "stun-3478"});
  // One check that reached the host (a finding about what it measured) rules it out.
  auto reached = failed("tls-5061", "203.0.113.10:5061", Operation::none);
  CHECK(find_root_causes({failed("tcp-5061", "203.0.113.10:5061", Operation::connect),
                          failed("stun-3478", "203.0.113.10:3478", Operation::receive), reached})
            .empty());
}

TEST_CASE("the host part of a target") {
  CHECK(target_host("sbc.example.test:5061") == "sbc.example.test");
  CHECK(target_host("[2001:db8::1]:5061") == "2001:db8::1");
  CHECK(target_host("2001:db8::1") == "2001:db8::1");
  CHECK(target_host("203.0.113.10 ports 5004-5005") == "203.0.113.10");
  CHECK(target_host("203.0.113.10:3478/udp") == "203.0.113.10");
  CHECK(target_host("") == "");
}

TEST_CASE("an unresolved target names its cause: the resolver for every name, the name when it does not exist") {
  checks::TargetAddresses a{"a.example.test", {}, net::DnsFailure::timeout, "Timeout"};
  checks::TargetAddresses b{"b.example.test", {}, net::DnsFailure::unreachable, "Could not contact DNS servers"};
  checks::TargetAddresses n{"gone.example.test", {}, net::DnsFailure::nxdomain, ""};
  CHECK(checks::unresolved_cause(a).code == "dns.timeout");
  CHECK(checks::unresolved_cause(b).code == "dns.unreachable");
  CHECK(checks::unresolved_cause(a).message == checks::unresolved_cause(b).message);  // one cause for both names
  CHECK(checks::unresolved_cause(a).message.find("DNS does not work here") == 0);
  CHECK(checks::unresolved_cause(n).code == "dns.nxdomain");
  CHECK(checks::unresolved_cause(n).message.find("gone.example.test") != std::string::npos);
  auto f = checks::unresolved_finding("tcp", a, "connect to a.example.test:5061");
  CHECK(f.code == "tcp.no_address");
  CHECK(f.operation == Operation::resolve);
  CHECK(f.inconclusive);
  REQUIRE(f.cause);
  CHECK(f.cause->code == "dns.timeout");
  // Scoring turns it into a dependency error, and the report groups it.
  PlannedCheck p;
  p.rule.id = "tcp-5061";
  CheckRun run;
  run.outcome.findings = {f};
  auto record = make_record(p, run);
  CHECK(record.error->reason == ErrorReason::dependency);
  auto causes = find_root_causes({record});
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].checks == std::vector<std::string>{"tcp-5061"});
}

TEST_CASE("a check whose own test found the cause keeps its status and is listed under it") {
  // A DNS check that found the DNS server unreachable: its finding is the cause.
  Finding found{Severity::critical,
                "dns.unreachable",
                "The DNS server 10.0.0.53:53 could not be reached",
                "Check the resolver address",
                "",
                Operation::resolve,
                true};
  found.cause = checks::dns_server_cause(net::DnsFailure::unreachable);
  CHECK_FALSE(depends_on_cause(found));
  PlannedCheck dns;
  dns.rule.id = "dns-a";
  CheckRun dns_run;
  dns_run.outcome.findings = {found};
  auto dns_record = make_record(dns, dns_run);
  CHECK(dns_record.status == Status::fail);
  CHECK_FALSE(dns_record.error);
  // A check stopped because its target timed out in DNS: the same cause, other code.
  checks::TargetAddresses t{"sbc.example.test", {}, net::DnsFailure::timeout, ""};
  PlannedCheck tcp;
  tcp.rule.id = "tcp-5061";
  CheckRun tcp_run;
  tcp_run.outcome.findings = {checks::unresolved_finding("tcp", t, "connect to sbc.example.test:5061")};
  auto causes = find_root_causes({dns_record, make_record(tcp, tcp_run)});
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].code == "dns.unreachable");
  CHECK(causes[0].checks == std::vector<std::string>{"dns-a", "tcp-5061"});
  CHECK_FALSE(checks::dns_server_cause(net::DnsFailure::nxdomain));  // a missing name is no server failure
}
