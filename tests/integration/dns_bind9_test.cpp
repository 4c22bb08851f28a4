// The dns check against BIND 9, a DNS server nobody here wrote, on loopback,
// compared with dig: a name with 70 A (and 70 AAAA) records, an answer too
// large for UDP, and that answer behind a path that only carries UDP (socat
// relays UDP to named; nothing listens on the same TCP port), where the
// check must say the answer was truncated and the TCP retry failed.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "tests/integration/dns_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;

namespace {

constexpr int kRecords = 70;

std::string zone_text() {
  std::ostringstream z;
  z << "$TTL 300\n"
    << "@ IN SOA ns1.many.test. admin.many.test. 1 3600 600 86400 300\n"
    << "@ IN NS ns1.many.test.\n"
    << "ns1 IN A 127.0.0.1\n"
    << "small IN A 198.51.100.200\n";
  for (int i = 1; i <= kRecords; ++i) z << "big IN A 198.51.100." << i << "\n";
  for (int i = 1; i <= kRecords; ++i) z << "big IN AAAA 2001:db8::" << std::hex << i << std::dec << "\n";
  return z.str();
}

// named -g (foreground) on 127.0.0.1:<free port>, authoritative for many.test;
// ready when it has answered a query, killed by PID.
struct Bind9 {
  TempDir dir;
  unsigned short port = 0;
  std::optional<ChildProcess> proc;

  Bind9() {
    dir.write("many.test.zone", zone_text());
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = free_port(true);
      const auto& d = dir.path();
      dir.write("named.conf", "options {\n  directory \"" + d + "\";\n  pid-file \"" + d +
                                  "/named.pid\";\n  session-keyfile \"" + d + "/session.key\";\n  listen-on port " +
                                  std::to_string(port) +
                                  " { 127.0.0.1; };\n  listen-on-v6 { none; };\n  recursion no;\n"
                                  "  dnssec-validation no;\n  allow-query { any; };\n};\n"
                                  "controls { };\n"
                                  "zone \"many.test\" { type primary; file \"" +
                                  d + "/many.test.zone\"; };\n");
      proc.emplace(std::vector<std::string>{"named", "-g", "-n", "1", "-c", dir.file("named.conf")},
                   dir.file("named.log"));
      bool exited = false;
      bool up = wait_until(
          [&] {
            if (!proc->running()) return exited = true;
            return wait_for_dns("127.0.0.1", port, std::chrono::milliseconds(1));
          },
          std::chrono::seconds(10));
      if (up && !exited) return;
      if (!exited) break;
    }
    FAIL("named did not answer on 127.0.0.1:" << port << ": " << proc->log());
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
};

// A UDP-only path to a server: socat relays each client's datagrams to
// `to_port`; the same port on TCP has no listener (connection refused).
struct UdpOnlyRelay {
  unsigned short port = 0;
  std::optional<ChildProcess> proc;

  explicit UdpOnlyRelay(unsigned short to_port) {
    port = free_port(true);
    // RECVFROM + fork: one child per datagram while the parent keeps the
    // port (UDP4-LISTEN,fork leaves it unbound for a moment after each new
    // client, and a query then meets ICMP port unreachable).
    proc.emplace(std::vector<std::string>{"socat", "UDP4-RECVFROM:" + std::to_string(port) + ",bind=127.0.0.1,fork",
                                          "UDP4-SENDTO:127.0.0.1:" + std::to_string(to_port)});
    REQUIRE_MESSAGE(wait_for_dns("127.0.0.1", port, std::chrono::seconds(5)), "socat relay did not come up");
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
};

// dig's answer, sorted (BIND rotates the order of an RRset between answers).
std::vector<std::string> dig(const Bind9& named, const std::string& name, const std::string& type) {
  auto r = run({"dig", "@127.0.0.1", "-p", std::to_string(named.port), name, type, "+short", "+tries=1", "+time=3"},
               std::chrono::seconds(10));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out.push_back(line);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted_answers(const CheckRecord& r) {
  std::vector<std::string> out;
  for (const auto& a : r.details["answers"]) out.push_back(a.get<std::string>());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("70 A and 70 AAAA records from BIND 9: every one reported, as dig lists them, over TCP after TC") {
  if (!have_program("named") || !have_program("dig")) CALLREADY_SKIP("bind9 or dig not installed");
  Bind9 named;
  auto r = scan_dns("[" + dns_check("a", R"({"name":"big.many.test","type":"A"})") + "," +
                        dns_check("aaaa", R"({"name":"big.many.test","type":"AAAA"})") + "," +
                        dns_check("small", R"({"name":"small.many.test","type":"A"})") + "]",
                    named.server());
  REQUIRE(r.size() == 3);
  for (int i = 0; i < 2; ++i) {
    INFO(r[i].details.dump());
    CHECK(r[i].status == Status::pass);
    auto ours = sorted_answers(r[i]);
    CHECK(ours.size() == kRecords);  // before: 64, silently
    CHECK(ours == dig(named, "big.many.test", i == 0 ? "A" : "AAAA"));
    // Too large for a 512-byte UDP answer: it came over TCP after TC.
    CHECK(r[i].details["transport"] == "tcp");
    CHECK(r[i].details["truncated"] == true);
  }
  CHECK(r[2].details["answers"] == nlohmann::json::array({"198.51.100.200"}));
  CHECK(r[2].details["transport"] == "udp");
  CHECK(r[2].details["truncated"] == false);
}

TEST_CASE("BIND 9 behind a UDP-only path: a truncated answer whose TCP retry is refused is said so") {
  if (!have_program("named") || !have_program("socat")) CALLREADY_SKIP("bind9 or socat not installed");
  Bind9 named;
  UdpOnlyRelay relay(named.port);
  auto r = scan_dns("[" + dns_check("big", R"({"name":"big.many.test","type":"A","query_timeout_ms":3000})") + "]",
                    relay.server());
  REQUIRE(r.size() == 1);
  INFO(r[0].details.dump());
  CHECK(r[0].status == Status::fail);
  REQUIRE(r[0].findings.size() == 1);
  const auto& f = r[0].findings.front();
  CHECK(f.code == "dns.truncated_tcp_failed");  // before: dns.unreachable, "could not be reached"
  CHECK(f.operation == Operation::connect);
  CHECK(f.message.find("truncated") != std::string::npos);
  CHECK(f.message.find("Connection refused") != std::string::npos);
  CHECK(f.remediation.find("TCP 53") != std::string::npos);
  CHECK(r[0].details["truncated"] == true);
  CHECK(r[0].details["transport"] == "tcp");
  // The same path carries small answers: UDP 53 itself works. (A scan of
  // its own: when its TCP connection fails, c-ares fails every query then
  // pending on that server, small ones too.)
  auto small = scan_dns("[" + dns_check("small", R"({"name":"small.many.test","type":"A"})") + "]", relay.server());
  REQUIRE(small.size() == 1);
  CHECK(small[0].status == Status::pass);
  CHECK(small[0].details["answers"] == nlohmann::json::array({"198.51.100.200"}));
  CHECK(small[0].details["transport"] == "udp");
}
