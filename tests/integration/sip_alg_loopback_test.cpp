// The sip_alg check against the real SIP mirror service on loopback: directly
// (no ALG), through a fake ALG proxy that rewrites addresses like nf_nat_sip,
// through a proxy that drops INVITEs, and with nothing listening.
#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "probe/net/resolver.hpp"
#include "probe/registry.hpp"
#include "probe/respond/services.hpp"
#include "tests/support/process.hpp"

using namespace callready;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

struct Run {
  CheckOutcome outcome;
  std::vector<std::string> codes;
};

Run run_check(asio::io_context& io, const json& params) {
  const CheckKind* kind = find_check_kind("sip_alg");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + std::chrono::seconds(10), settings, nullptr};
  std::optional<CheckOutcome> result;
  asio::co_spawn(io, kind->run(params, ctx), [&](std::exception_ptr e, CheckOutcome o) {
    REQUIRE_FALSE(e);
    result = std::move(o);
    io.stop();
  });
  io.restart();
  io.run_for(std::chrono::seconds(15));
  REQUIRE(result);
  Run r{std::move(*result), {}};
  for (const auto& f : r.outcome.findings) r.codes.push_back(f.code);
  return r;
}

respond::ResponderOptions mirror_on(unsigned short port) {
  respond::ResponderOptions o;
  o.bind_address = "127.0.0.1";
  o.sip_ports = {{port, port}};
  return o;
}

// A one-client UDP "ALG": requests from the client get `from`->`to` replaced and
// go on to the mirror; responses get `back_from`->`back_to` replaced. With
// `drop_invites` it forwards no INVITE at all.
struct FakeAlg {
  std::string from, to, back_from, back_to;
  bool drop_invites = false;
};

void replace_all(std::string& s, const std::string& a, const std::string& b) {
  if (a.empty()) return;
  for (auto p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
}

asio::awaitable<void> run_fake_alg(udp::socket& front, udp::socket& back, udp::endpoint mirror, FakeAlg alg) {
  std::vector<char> buf(65536);
  udp::endpoint client, sender;
  auto tuple = asio::as_tuple(asio::use_awaitable);
  // Requests and responses alternate strictly in this test, one at a time.
  for (;;) {
    auto [ec, n] = co_await front.async_receive_from(asio::buffer(buf), client, tuple);
    if (ec) co_return;
    std::string req(buf.data(), n);
    if (alg.drop_invites && req.starts_with("INVITE ")) continue;
    if (req.starts_with("ACK ")) continue;
    replace_all(req, alg.from, alg.to);
    back.send_to(asio::buffer(req), mirror);
    auto [ec2, m] = co_await back.async_receive_from(asio::buffer(buf), sender, tuple);
    if (ec2) co_return;
    std::string res(buf.data(), m);
    replace_all(res, alg.back_from, alg.back_to);
    front.send_to(asio::buffer(res), client);
  }
}

}  // namespace

TEST_CASE("no ALG on loopback: every request over UDP and TCP arrives unchanged") {
  asio::io_context io;
  auto port = test::free_port(true);
  REQUIRE(respond::start_sip_service(io, mirror_on(port), nullptr) == "");
  auto r = run_check(
      io, {{"host", "127.0.0.1"}, {"port", port}, {"transport", "both"}, {"source_port", test::free_port(true)}});
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK_FALSE(r.outcome.error);
  CHECK(d["alg_detected"] == false);
  CHECK(d["rewritten"] == json::array());
  CHECK(d["response_via_rewritten"] == false);
  CHECK(d["dropped"] == json::array());
  REQUIRE(d["attempts"].size() == 8);  // {udp,tcp} x {fixed, ephemeral} x {INVITE, REGISTER}
  for (const auto& a : d["attempts"]) {
    CHECK(a["outcome"] == "mirrored");
    CHECK(a["rewritten"] == json::array());
    CHECK(a["status"] == (a["method"] == "INVITE" ? 488 : 200));
  }
  CHECK(d["sent"] == d["received"]);
  CHECK(d["sent"]["c="] == "IN IP4 127.0.0.1");
  CHECK(r.codes.empty());
  CHECK(r.outcome.summary.find("no SIP ALG") == 0);
}

TEST_CASE("a rewriting ALG is detected on both legs, and named field by field") {
  asio::io_context io;
  auto port = test::free_port(true);
  REQUIRE(respond::start_sip_service(io, mirror_on(port), nullptr) == "");
  // The client talks to 127.0.0.3; the proxy forwards from 127.0.0.4, whose
  // address it turns back into the client's on the way back (received=).
  udp::socket front(io, udp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
  udp::socket back(io, udp::endpoint(asio::ip::make_address("127.0.0.4"), 0));
  FakeAlg alg{"127.0.0.1", "192.0.2.1", "received=127.0.0.4", "received=127.0.0.1"};
  asio::co_spawn(io, run_fake_alg(front, back, udp::endpoint(asio::ip::make_address("127.0.0.1"), port), alg),
                 asio::detached);
  auto r = run_check(io, {{"host", "127.0.0.3"}, {"port", front.local_endpoint().port()}, {"source_port", 0}});
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK(d["alg_detected"] == true);
  CHECK(d["rewritten"] == json::array({"Via", "From", "Call-ID", "Contact", "o=", "c="}));
  CHECK(d["response_via_rewritten"] == true);
  CHECK(d["sent"]["Contact"] != d["received"]["Contact"]);
  CHECK(d["received"]["c="] == "IN IP4 192.0.2.1");
  CHECK(d["observed_source"].get<std::string>().starts_with("127.0.0.4:"));
  CHECK(r.codes == std::vector<std::string>{"sip_alg.detected", "sip_alg.response_rewritten"});
  CHECK(r.outcome.findings[0].severity == Severity::critical);
  CHECK(r.outcome.findings[0].remediation.find("Disable SIP ALG") == 0);
  CHECK(r.outcome.findings[0].remediation.find("000_657a5ed6fe137e34.txt") != std::string::npos);
}

TEST_CASE("INVITEs that vanish while REGISTERs pass are an ALG's doing") {
  asio::io_context io;
  auto port = test::free_port(true);
  REQUIRE(respond::start_sip_service(io, mirror_on(port), nullptr) == "");
  udp::socket front(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  udp::socket back(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  FakeAlg alg{"", "", "", "", true};
  asio::co_spawn(io, run_fake_alg(front, back, udp::endpoint(asio::ip::make_address("127.0.0.1"), port), alg),
                 asio::detached);
  auto r = run_check(io, {{"host", "127.0.0.1"},
                          {"port", front.local_endpoint().port()},
                          {"source_port", 0},
                          {"timeout_ms_per_request", 400}});
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK(d["alg_detected"] == true);
  CHECK(d["rewritten"] == json::array());
  CHECK(d["dropped"] == json::array({"INVITE over udp from an ephemeral port"}));
  CHECK(r.codes == std::vector<std::string>{"sip_alg.dropped"});
}

TEST_CASE("nothing listening: refused, ALG presence unknown") {
  asio::io_context io;
  auto port = test::free_port(true);
  auto r = run_check(io, {{"host", "127.0.0.1"}, {"port", port}, {"transport", "both"}, {"source_port", 0}});
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK(d["alg_detected"] == false);
  CHECK(r.codes == std::vector<std::string>{"sip_alg.refused"});
  CHECK(r.outcome.findings[0].severity == Severity::warning);
  for (const auto& a : d["attempts"]) CHECK(a["outcome"] == "refused");
}
