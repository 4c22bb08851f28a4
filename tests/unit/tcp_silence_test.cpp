// How long the tcp check waits out a silent port, in virtual time, against
// loopback listeners: a port whose accept queue is full drops every SYN (the
// shape of a firewall DROP), an ordinary one answers. With no RTT to the
// address the wait is the connect timeout; once any exchange of the scan has
// measured one it is max(4 x RTT, 250 ms), also for a connect already pending.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "probe/clock.hpp"
#include "probe/engine.hpp"
#include "probe/profile.hpp"
#include "probe/registry.hpp"
#include "probe/scoring.hpp"

using namespace callready;

namespace {

// A loopback listener; `silent`: backlog 0 with one connection queued, so the
// kernel drops every further SYN without an answer.
struct Listener {
  int fd = -1;
  int filler = -1;
  unsigned short port = 0;
  explicit Listener(bool silent) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    REQUIRE(listen(fd, silent ? 0 : 16) == 0);
    if (silent) {
      filler = socket(AF_INET, SOCK_STREAM, 0);
      REQUIRE(connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
  }
  ~Listener() {
    if (filler >= 0) close(filler);
    close(fd);
  }
};

std::string tcp(const std::string& id, unsigned short port, int connect_timeout_ms = 3000) {
  return R"({"id":")" + id + R"(","kind":"tcp","category":"c","params":{"host":"127.0.0.1","port":)" +
         std::to_string(port) + R"(,"connect_timeout_ms":)" + std::to_string(connect_timeout_ms) + "}}";
}

std::vector<CheckRecord> scan(const std::string& checks, int concurrency = 8) {
  REQUIRE(find_check_kind("tcp"));
  auto load = load_profile_text(R"({"name":"tcp-silence","checks":)" + checks + "}", "tcp-silence");
  REQUIRE_MESSAGE(load.profile, (load.errors.empty() ? "" : load.errors[0]));
  auto plan = build_plan(*load.profile, {});
  REQUIRE(plan.plan);
  EngineOptions o;
  o.handle_sigint = false;
  o.concurrency = concurrency;
  return make_records(*plan.plan, run_plan(*plan.plan, o));
}

// max(4 x RTT, 250 ms), from the RTT the details name.
long long rule_ms(const json& details) {
  double rtt = details["path_rtt_ms"].get<double>();
  return std::max<long long>(250, static_cast<long long>(std::ceil(4 * rtt - 1e-9)));
}

}  // namespace

TEST_CASE("tcp silence: no RTT known, the connect timeout is waited out") {
  VirtualTime vt;
  Listener silent(true);
  auto run = scan("[" + tcp("silent", silent.port, 1500) + "]");
  REQUIRE(run.size() == 1);
  const auto& d = run[0].details;
  CHECK(run[0].status == Status::fail);
  CHECK(d["error"] == "timeout");
  CHECK(d["wait_basis"] == "timeout");
  CHECK(d["wait_ms"] == 1500);
  CHECK(!d.contains("path_rtt_ms"));
  CHECK(d["attempts"][0]["syns"] == 1);
  CHECK(run[0].duration_ms == 1500);
  REQUIRE(run[0].findings.size() == 1);
  CHECK(run[0].findings[0].code == "tcp.timeout");
  CHECK(run[0].findings[0].message.find("did not answer within 1500 ms") != std::string::npos);
}

TEST_CASE("tcp silence: an RTT measured earlier in the scan shortens the wait to max(4 x RTT, 250 ms)") {
  VirtualTime vt;
  Listener open(false), silent(true);
  // One at a time: the open port's connect is over before the silent one starts.
  auto run = scan("[" + tcp("open", open.port) + "," + tcp("silent", silent.port) + "]", 1);
  REQUIRE(run.size() == 2);
  CHECK(run[0].status == Status::pass);
  CHECK(!run[0].details.contains("wait_ms"));
  const auto& d = run[1].details;
  CHECK(run[1].status == Status::fail);
  CHECK(d["error"] == "timeout");
  CHECK(d["wait_basis"] == "rtt");
  REQUIRE(d["path_rtt_ms"].is_number());
  CHECK(d["wait_ms"] == rule_ms(d));
  CHECK(run[1].duration_ms == rule_ms(d));
  CHECK(d["attempts"][0]["wait_basis"] == "rtt");
  CHECK(d["attempts"][0]["syns"] == 2);  // a second SYN halfway through
  REQUIRE(run[1].findings.size() == 1);
  CHECK(run[1].findings[0].message.find("RTT this scan measured to it") != std::string::npos);
}

TEST_CASE("tcp silence: an RTT learnt while the connect is pending re-arms its deadline") {
  VirtualTime vt;
  Listener open(false), silent(true);
  // The silent port starts first and waits on the 3000 ms timeout until the
  // open port's connect (started with it) records an RTT.
  auto run = scan("[" + tcp("silent", silent.port) + "," + tcp("open", open.port) + "]");
  REQUIRE(run.size() == 2);
  CHECK(run[1].status == Status::pass);
  const auto& d = run[0].details;
  CHECK(run[0].status == Status::fail);
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["wait_ms"] == rule_ms(d));
  CHECK(run[0].duration_ms == rule_ms(d));
  CHECK(run[0].duration_ms < 3000);
}

TEST_CASE("tcp silence: a budget smaller than the rule bounds the wait") {
  VirtualTime vt;
  Listener open(false), silent(true);
  auto run = scan("[" + tcp("open", open.port) + "," + tcp("silent", silent.port, 100) + "]", 1);
  REQUIRE(run.size() == 2);
  const auto& d = run[1].details;
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["wait_ms"] == 100);
  CHECK(run[1].duration_ms == 100);
}
