// The dns check against a real dnsmasq on loopback (records of the test's own),
// driven through the engine like a scan: A/AAAA/SRV/PTR, NXDOMAIN, REFUSED,
// an unreachable server, a silent server (timeout).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/integration/dns_support.hpp"
#include "tests/support/dnsmasq.hpp"

using namespace callready;
using namespace callready::test;

namespace {

Dnsmasq zone() {
  return Dnsmasq({
      "--local=/example.test/",
      "--host-record=sbc1.example.test,203.0.113.10,2001:db8:2::10",
      "--host-record=sbc2.example.test,203.0.113.11",
      "--host-record=multi.example.test,203.0.113.20",
      "--host-record=multi.example.test,203.0.113.21",
      "--srv-host=_sips._tcp.example.test,sbc2.example.test,5061,20,10",
      "--srv-host=_sips._tcp.example.test,sbc1.example.test,5061,10,60",
      "--srv-host=_sips._tcp.example.test,sbc3.example.test,5061,10,40",
      "--srv-host=_xsi-client._tcp.example.test,multi.example.test,443,10,10",
      "--srv-host=_orphan._tcp.example.test,ghost.example.test,5061,10,10",
  });
}

std::vector<CheckRecord> scan(const std::string& checks_json, const std::string& server) {
  return scan_dns(checks_json, server);
}

std::string check(const std::string& id, const std::string& params) { return dns_check(id, params); }

// A UDP socket on 127.0.0.1 at a kernel-picked port (written to `a`).
int loopback_udp_socket(sockaddr_in& a) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return fd;
}

bool has_code(const CheckRecord& r, const std::string& code) {
  for (const auto& f : r.findings)
    if (f.code == code) return true;
  return false;
}

}  // namespace

TEST_CASE("dns against dnsmasq") {
  REQUIRE_MESSAGE(have_program("dnsmasq"), "dnsmasq missing: run scripts/install-deps.sh");
  auto dns = zone();
  auto r = scan(
      "[" + check("a", R"({"name":"sbc1.example.test","type":"A"})") + "," +
          check("aaaa", R"({"name":"sbc1.example.test","type":"AAAA"})") + "," +
          check("srv", R"({"name":"_sips._tcp.example.test","type":"SRV","resolve_targets":true})") + "," +
          check("ptr", R"({"name":"203.0.113.10","type":"PTR"})") + "," +
          check("nx", R"({"name":"nope.example.test","type":"A"})") + "," +
          check("nodata", R"({"name":"sbc2.example.test","type":"AAAA"})") + "," +
          check("refused", R"({"name":"www.elsewhere.invalid","type":"A"})") + "," +
          check("multi", R"({"name":"_xsi-client._tcp.example.test","type":"SRV","max_addresses_per_target":1})") +
          "," + check("orphan", R"({"name":"_orphan._tcp.example.test","type":"SRV","resolve_targets":true})") + "," +
          check("subnets", R"({"name":"sbc1.example.test","type":"A","expect_in_subnets":["198.51.100.0/24"]})") + "]",
      dns.server());
  REQUIRE(r.size() == 10);
  CAPTURE(dns.log());

  CHECK(r[0].status == Status::pass);
  CHECK(r[0].details["answers"] == json::array({"203.0.113.10"}));
  CHECK(r[0].details["rcode"] == "NOERROR");
  CHECK(r[0].details["rtt_ms"].is_number());
  CHECK(r[0].details["ttl"].is_number());

  CHECK(r[1].status == Status::pass);
  CHECK(r[1].details["answers"] == json::array({"2001:db8:2::10"}));

  CHECK(r[2].details["answers"].size() == 3);
  // RFC 2782 order: priority 10 first (weight 60 before 40), then priority 20.
  CHECK(r[2].details["answers"][0]["target"] == "sbc1.example.test");
  CHECK(r[2].details["answers"][0]["port"] == 5061);
  CHECK(r[2].details["answers"][1]["target"] == "sbc3.example.test");
  CHECK(r[2].details["answers"][2]["target"] == "sbc2.example.test");
  CHECK(r[2].details["answers"][2]["priority"] == 20);
  // sbc3 has no address: the seed 002 rule (an A record for every SBC) fails.
  CHECK(r[2].status == Status::fail);
  CHECK(has_code(r[2], "dns.srv_target_no_address"));
  CHECK(r[2].details["targets"].size() == 3);

  CHECK(r[3].status == Status::pass);
  CHECK(r[3].details["query_name"] == "10.113.0.203.in-addr.arpa");
  CHECK(r[3].details["answers"] == json::array({"sbc1.example.test"}));

  CHECK(r[4].status == Status::fail);
  CHECK(has_code(r[4], "dns.nxdomain"));
  CHECK(r[4].details["rcode"] == "NXDOMAIN");
  CHECK(r[4].findings[0].message.find("does not exist") != std::string::npos);
  CHECK(r[4].findings[0].operation == Operation::resolve);

  CHECK(r[5].status == Status::fail);
  CHECK(has_code(r[5], "dns.no_data"));

  CHECK(r[6].status == Status::fail);
  CHECK(has_code(r[6], "dns.refused"));
  CHECK(r[6].details["rcode"] == "REFUSED");

  CHECK(r[7].status == Status::fail);
  CHECK(has_code(r[7], "dns.srv_target_multiple_addresses"));
  CHECK(r[7].details["targets"][0]["addresses"].size() == 2);

  CHECK(has_code(r[8], "dns.srv_target_no_address"));

  CHECK(r[9].status == Status::warn);
  CHECK(has_code(r[9], "dns.address_outside_subnets"));
  CHECK(r[9].details["outside_subnets"] == json::array({"203.0.113.10"}));
  CHECK(r[9].findings[0].operation == Operation::none);
}

TEST_CASE("dns: an unreachable server and a silent one are distinct findings") {
  // Nothing listens on this port: ICMP port unreachable.
  auto dead = free_port(true);
  auto r = scan("[" + check("dead", R"({"name":"a.example.test","type":"A","query_timeout_ms":3000})") + "]",
                "127.0.0.1:" + std::to_string(dead));
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == Status::fail);
  CHECK(has_code(r[0], "dns.unreachable"));

  // A socket that reads and never answers.
  sockaddr_in a{};
  int fd = loopback_udp_socket(a);
  r = scan("[" + check("silent", R"({"name":"a.example.test","type":"A","query_timeout_ms":800})") + "]",
           "127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  close(fd);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == Status::fail);
  CHECK(has_code(r[0], "dns.timeout"));
  CHECK(r[0].details["rtt_ms"].is_null());
}

TEST_CASE("dns: transport tcp asks over TCP 53, max_addresses on an A name") {
  REQUIRE_MESSAGE(have_program("dnsmasq"), "dnsmasq missing: run scripts/install-deps.sh");
  auto dns = zone();
  auto r = scan("[" + check("tcp", R"({"name":"sbc1.example.test","type":"A","transport":"tcp"})") + "," +
                    check("one", R"({"name":"sbc1.example.test","type":"A","max_addresses":1})") + "," +
                    check("two", R"({"name":"multi.example.test","type":"A","max_addresses":1})") + "]",
                dns.server());
  REQUIRE(r.size() == 3);
  CAPTURE(dns.log());
  CHECK(r[0].status == Status::pass);
  CHECK(r[0].details["transport"] == "tcp");
  CHECK(r[0].details["answers"] == json::array({"203.0.113.10"}));
  CHECK(r[1].status == Status::pass);
  CHECK(has_code(r[2], "dns.multiple_addresses"));
}

TEST_CASE("dns: a server answering garbage is a bad response, not a timeout") {
  // Answers every datagram with bytes that are no DNS message (bounded: until stopped, at most 600 reads).
  sockaddr_in a{};
  int fd = loopback_udp_socket(a);
  timeval tick{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  std::atomic<bool> stop{false};
  std::thread garbler([&] {
    for (int i = 0; i < 600 && !stop; ++i) {
      unsigned char buf[512];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      auto n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0) continue;
      const char junk[] = "garbage, not DNS";
      sendto(fd, junk, sizeof junk - 1, 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  });
  auto r = scan("[" + check("garbled", R"({"name":"a.example.test","type":"A","query_timeout_ms":800})") + "]",
                "127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  stop = true;
  garbler.join();
  close(fd);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == Status::fail);
  CHECK(has_code(r[0], "dns.bad_response"));
  CHECK(!has_code(r[0], "dns.timeout"));
}
