// The tcp check against real listeners on loopback: open, closed, and a name
// with an IPv4 and an IPv6 address where only one listens.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/engine.hpp"
#include "probe/profile.hpp"
#include "probe/registry.hpp"
#include "probe/scoring.hpp"
#include "tests/support/dnsmasq.hpp"

using namespace callready;

namespace {

struct Listener {
  int fd = -1;
  unsigned short port = 0;
  explicit Listener(bool v6 = false) {
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      port = ntohs(a.sin6_port);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      port = ntohs(a.sin_port);
    }
    listen(fd, 16);
  }
  ~Listener() { close(fd); }
};

std::vector<CheckRecord> scan(const std::string& checks, const std::string& dns_server = {}) {
  REQUIRE(find_check_kind("tcp"));
  auto load = load_profile_text(R"({"name":"tcp-test","checks":)" + checks + "}", "tcp-test");
  REQUIRE_MESSAGE(load.profile, (load.errors.empty() ? "" : load.errors[0]));
  auto plan = build_plan(*load.profile, {});
  REQUIRE(plan.plan);
  EngineOptions o;
  o.handle_sigint = false;
  if (!dns_server.empty()) o.dns_server = net::parse_dns_server(dns_server);
  return make_records(*plan.plan, run_plan(*plan.plan, o));
}

std::string tcp(const std::string& id, const std::string& host, unsigned short port) {
  return R"({"id":")" + id + R"(","kind":"tcp","category":"c","params":{"host":")" + host + R"(","port":)" +
         std::to_string(port) + "}}";
}

}  // namespace

TEST_CASE("tcp: open and closed ports on loopback") {
  Listener open;
  auto closed = callready::test::free_port();
  auto run = scan("[" + tcp("open", "127.0.0.1", open.port) + "," + tcp("closed", "127.0.0.1", closed) + "]");
  REQUIRE(run.size() == 2);
  const auto& o = run[0];
  CHECK(o.status == Status::pass);
  CHECK(o.details["connected"] == true);
  CHECK(o.details["address"] == "127.0.0.1");
  CHECK(o.details["rtt_ms"].is_number());
  const auto& c = run[1];
  CHECK(c.status == Status::fail);
  CHECK(c.details["connected"] == false);
  CHECK(c.details["error"] == "refused");
  REQUIRE(c.findings.size() == 1);
  CHECK(c.findings[0].code == "tcp.refused");
  CHECK(c.findings[0].operation == Operation::connect);
  CHECK(c.findings[0].remediation.find("Allow outbound TCP " + std::to_string(closed)) != std::string::npos);
}

TEST_CASE("tcp: every address of a name is tried and reported") {
  // A name with an IPv4 and an IPv6 loopback address; only IPv6 listens.
  Listener v6(true);
  callready::test::Dnsmasq dns({"--host-record=dual.example.test,127.0.0.1,::1"});
  auto run = scan("[" + tcp("both", "dual.example.test", v6.port) + "]", dns.server());
  REQUIRE(run.size() == 1);
  const auto& r = run[0];
  CAPTURE(r.details.dump());
  REQUIRE(r.details["attempts"].size() >= 2);
  CHECK(r.details["connected"] == true);
  CHECK(r.details["address"] == "::1");
  CHECK(r.status == Status::warn);
  CHECK(r.findings[0].code == "tcp.partial");
}

TEST_CASE("tcp: a name that does not resolve is a dependency error, not a TCP verdict") {
  // A dead DNS server on loopback: resolution fails fast and nothing leaves the machine.
  auto run = scan("[" + tcp("x", "nothing.invalid", 443) + "]",
                  "127.0.0.1:" + std::to_string(callready::test::free_port(true)));
  REQUIRE(run.size() == 1);
  CHECK(run[0].status == Status::error);
  CHECK(run[0].details["error"] == "no_address");
  REQUIRE(run[0].error);
  CHECK(run[0].error->reason == ErrorReason::dependency);
  CHECK(run[0].error->operation == Operation::resolve);
  REQUIRE(run[0].error->cause);
  CHECK(run[0].error->cause->code.starts_with("dns."));  // the root cause the report names once
  CHECK(run[0].findings.empty());
}
