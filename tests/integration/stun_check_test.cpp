// The `stun` check against scripted fake servers on loopback: the cases real
// servers do not produce on demand (an ALG's rewritten MAPPED-ADDRESS, error
// answers, junk, lost requests, a server that ignores CHANGE-REQUEST).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>

#include "tests/integration/stun_support.hpp"

using namespace callready;
using namespace callready::test;
using nlohmann::json;

namespace {

// Answers each datagram on 127.0.0.1:port with whatever `script` returns
// (nothing when it returns nullopt), until destroyed.
class FakeServer {
 public:
  using Script = std::function<std::optional<stun::Bytes>(int n, const stun::Message&, const stun::Endpoint& from)>;
  // What happens to answers to a CHANGE-REQUEST: `ignore` sends them from the
  // primary port like any other; `filtered` drops them all (as a NAT with
  // address-and-port-dependent filtering would); `port_only` sends those for
  // another port from port+1 and drops those for another IP (address-dependent).
  enum class Change { ignore, filtered, port_only };
  explicit FakeServer(Script script, Change change = Change::ignore)
      : script_(std::move(script)), change_mode_(change) {
    port_ = free_udp_block(2);
    alt_.sock.close();
    alt_.sock.open(boost::asio::ip::udp::v4());
    alt_.sock.bind({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_ + 1)});
    // Bound before the thread starts, so that the check's first request is never lost.
    s_.sock.close();
    s_.sock.open(boost::asio::ip::udp::v4());
    s_.sock.bind({boost::asio::ip::make_address("127.0.0.1"), port_});
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
  }
  unsigned short port() const { return port_; }

 private:
  void serve() {
    int n = 0;
    while (!stop_) {  // bounded by the test's lifetime; polls every 50 ms
      auto d = s_.receive(std::chrono::milliseconds(50));
      if (!d) continue;
      auto r = stun::parse(d->bytes);
      if (!r) continue;
      auto reply = script_(n++, *r.message, d->from);
      if (!reply) continue;
      const auto* cr = r.message->find(stun::attr::change_request);
      auto change = cr ? stun::read_change_request(*cr).value_or(stun::ChangeRequest{}) : stun::ChangeRequest{};
      bool changed = change.change_ip || change.change_port;
      if (!changed || change_mode_ == Change::ignore) {
        s_.sock.send_to(boost::asio::buffer(*reply), d->from);
      } else if (change_mode_ == Change::port_only && !change.change_ip) {
        alt_.sock.send_to(boost::asio::buffer(*reply), d->from);
      }
    }
  }
  Script script_;
  Change change_mode_ = Change::ignore;
  RawUdp s_, alt_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

stun::Builder success_for(const stun::Message& req) {
  return stun::Builder(stun::kBinding, stun::MessageClass::success, req.transaction_id);
}

}  // namespace

TEST_CASE("an ALG that rewrites MAPPED-ADDRESS but not the XORed copy is reported") {
  FakeServer server([](int, const stun::Message& req, const stun::Endpoint& from) -> std::optional<stun::Bytes> {
    stun::Endpoint rewritten(boost::asio::ip::make_address("198.18.0.99"), 5060);
    return success_for(req)
        .add_xor_address(stun::attr::xor_mapped_address, from)
        .add_address(stun::attr::mapped_address, rewritten)
        .add_fingerprint()
        .bytes();
  });
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", server.port()}}, std::chrono::seconds(5));
  const auto& d = t.details;
  CHECK(d["reachable"] == true);
  CHECK(d["alg_suspected"] == true);
  CHECK(d["mapped_address"] == d["local_address"]);  // the XORed address is the truth
  CHECK(has_finding(t, "stun.alg_rewrite", Severity::warning));
  // No OTHER-ADDRESS: the behaviours stay unknown rather than guessed.
  CHECK(d["mapping_behavior"] == "unknown: server lacks RFC 5780");
}

// The exact times (0, 500, 1500 ms) are asserted in virtual time by
// tests/unit/stun_schedule_test.cpp; here the check's details show it.
TEST_CASE("lost requests are retransmitted until one is answered") {
  FakeServer server([](int n, const stun::Message& req, const stun::Endpoint& from) -> std::optional<stun::Bytes> {
    if (n < 2) return std::nullopt;  // the first two requests are "lost"
    return success_for(req).add_xor_address(stun::attr::xor_mapped_address, from).bytes();
  });
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", server.port()}}, std::chrono::seconds(10));
  const auto& d = t.details;
  CHECK(d["reachable"] == true);
  CHECK(d["requests_sent"] == 3);
  CHECK(d["rtt_ms"].is_number());
  CHECK(d["alg_suspected"].is_null());  // no MAPPED-ADDRESS to compare with
}

TEST_CASE("an error answer means reachable but refused") {
  FakeServer server([](int, const stun::Message& req, const stun::Endpoint&) -> std::optional<stun::Bytes> {
    return stun::Builder(stun::kBinding, stun::MessageClass::error, req.transaction_id)
        .add_error_code(401, "Unauthorized")
        .bytes();
  });
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", server.port()}}, std::chrono::seconds(5));
  CHECK(t.details["reachable"] == true);
  CHECK(t.details["mapped_address"].is_null());
  CHECK(has_finding(t, "stun.error_response", Severity::warning));
  CHECK(t.summary.find("401 Unauthorized") != std::string::npos);
}

TEST_CASE("junk in reply is not an answer: a critical bad_response finding, with the codec's reason") {
  FakeServer server([](int, const stun::Message& req, const stun::Endpoint&) -> std::optional<stun::Bytes> {
    auto b = success_for(req).add_fingerprint().bytes();
    b.back() ^= 0x5a;  // a corrupted FINGERPRINT
    return b;
  });
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", server.port()}}, std::chrono::milliseconds(2000));
  CHECK(t.details["reachable"] == false);
  REQUIRE(has_finding(t, "stun.bad_response", Severity::critical));
  CHECK(t.findings.front().message.find("FINGERPRINT") != std::string::npos);
}

TEST_CASE("a server that claims RFC 5780 but ignores CHANGE-REQUEST: behaviours unknown, never guessed") {
  unsigned short port = 0;
  FakeServer server([&port](int, const stun::Message& req, const stun::Endpoint& from) -> std::optional<stun::Bytes> {
    stun::Endpoint other(boost::asio::ip::make_address("127.0.0.2"), static_cast<unsigned short>(port + 1));
    return success_for(req)
        .add_xor_address(stun::attr::xor_mapped_address, from)
        .add_address(stun::attr::other_address, other)
        .bytes();
  });
  port = server.port();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  const auto& d = t.details;
  CHECK(d["reachable"] == true);
  CHECK(d["other_address"] == "127.0.0.2:" + std::to_string(port + 1));
  // Nothing listens on 127.0.0.2: test II of the mapping gets no answer.
  CHECK(d["mapping_behavior"].get<std::string>().rfind("unknown: test II to 127.0.0.2:", 0) == 0);
  // The "changed" answers come from the primary address: not evidence of anything.
  CHECK(d["filtering_behavior"].get<std::string>().rfind("unknown: the server did not honour CHANGE-REQUEST", 0) == 0);
}

namespace {
FakeServer::Script rfc5780_script(const unsigned short& port) {
  return [&port](int, const stun::Message& req, const stun::Endpoint& from) -> std::optional<stun::Bytes> {
    stun::Endpoint other(boost::asio::ip::make_address("127.0.0.2"), static_cast<unsigned short>(port + 1));
    return success_for(req)
        .add_xor_address(stun::attr::xor_mapped_address, from)
        .add_address(stun::attr::other_address, other)
        .bytes();
  };
}
}  // namespace

TEST_CASE("filtering: no answer to any CHANGE-REQUEST is address-and-port-dependent") {
  unsigned short port = 0;
  FakeServer server(rfc5780_script(port), FakeServer::Change::filtered);
  port = server.port();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  const auto& d = t.details;
  CHECK(d["filtering_behavior"] == "address-and-port-dependent");
  CHECK(d["filtering_evidence"] == "no answer from another IP (3 requests) nor from another port (3 requests)");
  // Silence waited out from the RTT the first exchange measured (loopback:
  // the 250 ms floor), not turnutils_natdiscovery's fixed 3.5 s.
  CHECK(d["filtering_wait_basis"] == "rtt");
  auto rtt = d["filtering_path_rtt_ms"].get<double>();
  CHECK(rtt < 100);
  // max(4 x RTT, 250 ms): the floor on loopback, unless a loaded machine measured more
  CHECK(std::abs(d["filtering_wait_ms"].get<double>() - std::max(250.0, 4 * rtt)) <= 2);
}

TEST_CASE("filtering: answers from another port but not another IP is address-dependent") {
  unsigned short port = 0;
  FakeServer server(rfc5780_script(port), FakeServer::Change::port_only);
  port = server.port();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  const auto& d = t.details;
  CHECK(d["filtering_behavior"] == "address-dependent");
  CHECK(d["filtering_evidence"].get<std::string>().find("127.0.0.1:" + std::to_string(port + 1)) != std::string::npos);
}

TEST_CASE("RFC 5780 mapping test II to a closed alternate address ends at the ICMP error, not after its schedule") {
  unsigned short port = 0;
  FakeServer server(rfc5780_script(port), FakeServer::Change::filtered);
  port = server.port();
  auto started = std::chrono::steady_clock::now();
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  auto elapsed = std::chrono::steady_clock::now() - started;
  const auto& d = t.details;
  INFO(d.dump());
  // Nothing listens on 127.0.0.2:port: the kernel says so at once.
  auto mapping = d["mapping_behavior"].get<std::string>();
  CHECK(mapping.rfind("unknown: test II to 127.0.0.2:" + std::to_string(port), 0) == 0);
  CHECK(mapping.find("(ICMP port unreachable from 127.0.0.2)") != std::string::npos);
  // The filtering tests still wait out their silence (3.5 s); test II of the
  // mapping no longer adds its 5.5 s schedule.
  CHECK(d["filtering_behavior"] == "address-and-port-dependent");
  CHECK(elapsed < std::chrono::milliseconds(3500 + 1000));
}
