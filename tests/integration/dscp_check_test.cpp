// The dscp check on loopback against a real `callready respond` (nothing on
// loopback re-marks: every class reads preserved both ways, IPv4 and IPv6, UDP
// and TCP); the set-up errors (port not served, an older responder that
// answers only echo v1 or only accepts TCP); a served port that stays silent
// is "no reply", never "bleached". Re-marking itself needs the namespace lab
// (tests/lab/dscp_*).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <thread>

#include "checks/common/echo_probe.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

CheckOutcome run_dscp(const json& params, const std::string& control_host, unsigned short control,
                      const std::string& token = "") {
  const CheckKind* kind = find_check_kind("dscp");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = control_host + ":" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 60s, settings, link, nullptr};
  return test::run_io(io, kind->run(params, ctx));
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> c;
  for (const auto& f : o.findings) c.push_back(f.code);
  return c;
}

struct Responder {
  unsigned short control = 0, udp = 0, tcp = 0;
  std::unique_ptr<test::ChildProcess> process;
};

// `bind` "127.0.0.1" or "::1"; the control port listens there too.
Responder start(const test::TempDir& dir, const std::string& bind, std::vector<std::string> extra = {}) {
  Responder r;
  r.control = test::free_port();
  r.udp = test::free_port(true);
  r.tcp = test::free_port();
  std::string host = bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
  std::vector<std::string> argv = {CALLREADY_BINARY, "respond",
                                   "--listen",       host + ":" + std::to_string(r.control),
                                   "--bind",         bind,
                                   "--udp-ports",    std::to_string(r.udp),
                                   "--tcp-ports",    std::to_string(r.tcp)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  r.process = std::make_unique<test::ChildProcess>(argv, dir.file("dscp-responder-" + std::to_string(r.control)));
  if (!test::wait_for_tcp(bind, r.control, 10s)) {
    INFO(r.process->log());
    FAIL("the responder did not open its control port");
  }
  return r;
}

json four_classes(unsigned short udp, unsigned short tcp, const std::string& host, const std::string& family) {
  return {{"host", host},
          {"family", family},
          {"classes", {"EF", "AF41", "CS3", "CS0"}},
          {"shapes",
           {{"EF", {{"transport", "udp"}, {"port", udp}, {"source_ports", "41500-41599"}}},
            {"AF41", {{"transport", "udp"}, {"port", udp}, {"source_ports", "41600-41699"}}},
            {"CS3", {{"transport", "tcp"}, {"port", tcp}, {"source_ports", "41060-41080"}}},
            {"CS0", {{"transport", "tcp"}, {"port", tcp}}}}}};
}

void expect_all_preserved(const CheckOutcome& o, const std::string& family) {
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(codes(o).empty());
  const auto& classes = o.details["classes"];
  REQUIRE(classes.size() == 4);
  std::map<std::string, int> want = {{"EF", 46}, {"AF41", 34}, {"CS3", 24}, {"CS0", 0}};
  for (const auto& c : classes) {
    std::string name = c["name"];
    CAPTURE(name);
    CHECK(c["family"] == family);
    CHECK(c["dscp"] == want[name]);
    CHECK(c["upstream"]["verdict"] == "preserved");
    CHECK(c["downstream"]["verdict"] == "preserved");
    CHECK(c["upstream"]["ecn_changed"] == false);
    std::string value = std::to_string(want[name]);
    if (c["transport"] == "udp") {
      CHECK(c["upstream"]["received"] == json{{value, 50}});  // 50 packets each way, all answered on loopback
      CHECK(c["downstream"]["received"] == json{{value, 50}});
      int sport = c["source_port"];
      CHECK(sport >= (name == "EF" ? 41500 : 41600));
      CHECK(sport <= (name == "EF" ? 41599 : 41699));
    } else {
      CHECK(c["upstream"]["received"] == json{{value, 10}});  // one SYN per connection
      CHECK(c["downstream"]["received"] == json{{value, 50}});
    }
  }
  int cs3_port = classes[2]["source_port"];
  CHECK(cs3_port >= 41060);
  CHECK(cs3_port <= 41080);
}

// A responder of the previous version: echo v1 only over UDP, and TCP ports
// that accept and close at once.
class OldResponder {
 public:
  OldResponder()
      : udp_(io_, {asio::ip::make_address("127.0.0.1"), 0}), tcp_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    udp_.non_blocking(false);
    thread_ = std::thread([this] { serve(); });
    tcp_thread_ = std::thread([this] {
      for (;;) {
        boost::system::error_code ec;
        asio::ip::tcp::socket s(io_);
        tcp_.accept(s, ec);
        if (ec || stop_) return;
        s.close(ec);
      }
    });
  }
  ~OldResponder() {
    stop_ = true;
    boost::system::error_code ec;
    udp_.shutdown(asio::socket_base::shutdown_both, ec);
    udp_.close(ec);
    ::shutdown(tcp_.native_handle(), SHUT_RDWR);
    tcp_.close(ec);
    thread_.join();
    tcp_thread_.join();
  }
  unsigned short udp_port() const { return udp_.local_endpoint().port(); }
  unsigned short tcp_port() const { return tcp_.local_endpoint().port(); }

 private:
  void serve() {
    std::vector<std::uint8_t> buf(70000);
    while (!stop_) {
      asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      std::size_t n = udp_.receive_from(asio::buffer(buf), from, 0, ec);
      if (ec) return;
      if (n < 5 || buf[4] != 1) continue;  // v1 decoders reject any other version
      checks::echo::Request req;
      if (checks::echo::decode_request({buf.data(), n}, "", req) != checks::echo::DecodeError::none) continue;
      checks::echo::Observation seen{from, 0, checks::echo::now_us(), static_cast<std::uint16_t>(n)};
      auto reply = checks::echo::encode_reply(req, seen, "");
      udp_.send_to(asio::buffer(reply), from, 0, ec);
    }
  }
  asio::io_context io_;
  asio::ip::udp::socket udp_;
  asio::ip::tcp::acceptor tcp_;
  std::thread thread_, tcp_thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace

TEST_CASE("on loopback every class is preserved both ways, UDP and TCP, IPv4") {
  test::TempDir dir;
  auto r = start(dir, "127.0.0.1", {"--token", "s3cret"});
  auto o = run_dscp(four_classes(r.udp, r.tcp, "127.0.0.1", "ipv4"), "127.0.0.1", r.control, "s3cret");
  expect_all_preserved(o, "ipv4");
  CHECK(o.summary.find("EF udp ipv4: preserved both ways") != std::string::npos);
  CHECK(r.process->stop() == 0);
}

TEST_CASE("on loopback every class is preserved both ways, UDP and TCP, IPv6") {
  test::TempDir dir;
  auto r = start(dir, "::1");
  auto o = run_dscp(four_classes(r.udp, r.tcp, "::1", "ipv6"), "[::1]", r.control);
  expect_all_preserved(o, "ipv6");
  CHECK(r.process->stop() == 0);
}

TEST_CASE("family both on an IPv4-only host: IPv6 is skipped and said so") {
  test::TempDir dir;
  auto r = start(dir, "127.0.0.1");
  json params = {{"host", "127.0.0.1"},
                 {"classes", {"EF"}},
                 {"packets", 10},
                 {"shapes", {{"EF", {{"transport", "udp"}, {"port", r.udp}}}}}};
  auto o = run_dscp(params, "127.0.0.1", r.control);
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  REQUIRE(o.details["classes"].size() == 1);
  CHECK(o.details["classes"][0]["upstream"]["received"] == json{{"46", 10}});
  REQUIRE(o.details["skipped"].size() == 1);
  CHECK(o.details["skipped"][0].get<std::string>().starts_with("ipv6"));
  CHECK(r.process->stop() == 0);
}

TEST_CASE("a port the responder does not serve is a set-up error") {
  test::TempDir dir;
  auto r = start(dir, "127.0.0.1");
  auto params = four_classes(r.udp, r.tcp, "127.0.0.1", "ipv4");
  params["shapes"]["CS3"]["port"] = r.tcp + 1 == r.udp ? r.tcp + 2 : r.tcp + 1;
  auto o = run_dscp(params, "127.0.0.1", r.control);
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
  CHECK(o.error->operation == Operation::control);
  CHECK(o.findings.empty());
  CHECK(r.process->stop() == 0);
}

TEST_CASE("an older responder (echo v1 only, TCP accept only) is a set-up error, never bleached") {
  OldResponder old;
  SUBCASE("UDP") {
    test::FakeControl control(json{{"udp_echo", {std::to_string(old.udp_port())}}});
    json params = {{"host", "127.0.0.1"},
                   {"family", "ipv4"},
                   {"classes", {"EF"}},
                   {"packets", 10},
                   {"shapes", {{"EF", {{"transport", "udp"}, {"port", old.udp_port()}}}}}};
    auto o = run_dscp(params, "127.0.0.1", control.port());
    INFO(o.details.dump(2));
    REQUIRE(o.error);
    CHECK(o.error->reason == ErrorReason::setup);
    CHECK(o.error->message.find("older version") != std::string::npos);
    CHECK(o.findings.empty());
  }
  SUBCASE("TCP") {
    test::FakeControl control(json{{"tcp_accept", {std::to_string(old.tcp_port())}}});
    json params = {{"host", "127.0.0.1"},
                   {"family", "ipv4"},
                   {"classes", {"CS3"}},
                   {"tcp_connections", 3},
                   {"shapes", {{"CS3", {{"transport", "tcp"}, {"port", old.tcp_port()}}}}}};
    auto o = run_dscp(params, "127.0.0.1", control.port());
    INFO(o.details.dump(2));
    REQUIRE(o.error);
    CHECK(o.error->reason == ErrorReason::setup);
    CHECK(o.error->message.find("older version") != std::string::npos);
  }
}

TEST_CASE("a served port that stays silent is no reply, not bleached") {
  unsigned short silent = test::free_port(true);  // claimed, nothing bound: ICMP port unreachable
  test::FakeControl control(json{{"udp_echo", {std::to_string(silent)}}});
  json params = {{"host", "127.0.0.1"},
                 {"family", "ipv4"},
                 {"classes", {"AF41"}},
                 {"packets", 10},
                 {"shapes", {{"AF41", {{"transport", "udp"}, {"port", silent}}}}}};
  auto o = run_dscp(params, "127.0.0.1", control.port());
  INFO(o.details.dump(2));
  REQUIRE_FALSE(o.error);
  CHECK(codes(o) == std::vector<std::string>{"dscp.no_reply"});
  CHECK(o.findings[0].inconclusive);
  CHECK(o.details["classes"][0]["upstream"]["verdict"] == "unknown");
  CHECK(o.details["classes"][0]["downstream"]["verdict"] == "unknown");
}
