// The sip_alg check against the real SIP mirror service and control port on
// loopback: directly (no ALG), through a fake ALG proxy that rewrites
// addresses like nf_nat_sip, through a proxy that drops INVITEs, through a
// path that refuses SIP; and the set-up errors (no responder, a port it does
// not serve, a wrong token), which are never ALG findings.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <memory>

#include "checks/sip_alg/sip_service.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "probe/respond/control_server.hpp"
#include "probe/respond/session_log.hpp"
#include "tests/support/process.hpp"

using namespace callready;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

struct Run {
  CheckOutcome outcome;
  std::vector<std::string> codes;
};

// Runs the check with the scan's responder link on `control_port` and `token`.
Run run_check(asio::io_context& io, const json& params, std::uint16_t control_port, std::string token = "") {
  const CheckKind* kind = find_check_kind("sip_alg");
  REQUIRE(kind);
  REQUIRE(kind->validate(params).empty());
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  net::ResponderLink link(io.get_executor(), control_port, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + std::chrono::seconds(10), settings, link, nullptr};
  std::optional<CheckOutcome> result;
  asio::co_spawn(io, kind->run(params, ctx), [&](std::exception_ptr e, CheckOutcome o) {
    REQUIRE_FALSE(e);
    result = std::move(o);
    io.stop();
  });
  io.restart();
  io.run_for(std::chrono::seconds(15));  // a bound, not a claim: the check's own deadline is 10 s
  REQUIRE(result);
  Run r{std::move(*result), {}};
  for (const auto& f : r.outcome.findings) r.codes.push_back(f.code);
  return r;
}

// The responder's control port on `control_address` announcing the SIP
// mirror on `sip_port`, and (with `serve`) the mirror itself on 127.0.0.1.
struct Responder {
  respond::ResponderOptions options;
  respond::SessionLog sessions{nullptr, std::chrono::seconds(30)};
  std::unique_ptr<respond::ControlServer> control;
  std::unique_ptr<respond::RunningService> sip;
  std::uint16_t control_port = 0;
  ~Responder() {
    if (control) control->stop();
    if (sip) sip->stop();
  }
};

std::unique_ptr<Responder> start_responder(asio::io_context& io, std::uint16_t sip_port, bool serve = true,
                                           const std::string& control_address = "127.0.0.1",
                                           const std::string& token = "") {
  auto r = std::make_unique<Responder>();
  r->options.bind_address = "127.0.0.1";
  r->options.token = token;
  r->options.ports["sip"] = {{sip_port, sip_port}};
  if (serve) {
    respond::ServiceHost host{io, r->options, r->sessions, nullptr};
    std::string error;
    r->sip = checks::sip_mirror_service().start(host, r->options.ports["sip"], error);
    if (!r->sip) return nullptr;  // the port was taken meanwhile
  }
  for (int attempt = 0; attempt < 20 && !r->control; ++attempt) {
    auto port = test::free_port();
    r->options.listen = control_address + ":" + std::to_string(port);
    auto control =
        std::make_unique<respond::ControlServer>(io, r->options, [](const std::string&, const std::string&) {});
    if (control->start().empty()) {
      r->control = std::move(control);
      r->control_port = port;
    }
  }
  REQUIRE(r->control);
  return r;
}

// A responder serving the mirror on a free port (retried when the port is taken).
std::unique_ptr<Responder> start_mirror(asio::io_context& io, const std::string& control_address = "127.0.0.1",
                                        const std::string& token = "") {
  for (int attempt = 0; attempt < 20; ++attempt)
    if (auto r = start_responder(io, test::free_port(true), true, control_address, token)) return r;
  FAIL("no free port for the SIP mirror");
  return nullptr;
}

std::uint16_t sip_port_of(const Responder& r) { return r.options.ports.at("sip").front().first; }

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

// The proxy's front on 127.0.0.3 takes the mirror's port number, so the
// responder (control port on 127.0.0.3) serves the port the check targets;
// its back end forwards from 127.0.0.4.
struct Proxy {
  std::unique_ptr<Responder> responder;
  std::unique_ptr<udp::socket> front, back;
};

Proxy start_proxy(asio::io_context& io, FakeAlg alg) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Proxy p;
    p.responder = start_mirror(io, "127.0.0.3");
    auto port = sip_port_of(*p.responder);
    p.front = std::make_unique<udp::socket>(io, udp::v4());
    boost::system::error_code ec;
    p.front->bind(udp::endpoint(asio::ip::make_address("127.0.0.3"), port), ec);
    if (ec) continue;
    p.back = std::make_unique<udp::socket>(io, udp::endpoint(asio::ip::make_address("127.0.0.4"), 0));
    asio::co_spawn(io, run_fake_alg(*p.front, *p.back, udp::endpoint(asio::ip::make_address("127.0.0.1"), port), alg),
                   asio::detached);
    return p;
  }
  FAIL("no port free on both 127.0.0.1 and 127.0.0.3");
  return {};
}

}  // namespace

TEST_CASE("no ALG on loopback: every request over UDP and TCP arrives unchanged") {
  asio::io_context io;
  auto responder = start_mirror(io);
  auto r = run_check(io,
                     {{"host", "127.0.0.1"},
                      {"port", sip_port_of(*responder)},
                      {"transport", "both"},
                      {"source_port", test::free_port(true)}},
                     responder->control_port);
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
  CHECK(d["fields"][0] == "Method");
  CHECK(r.codes.empty());
  CHECK(r.outcome.summary.find("no SIP ALG") == 0);
}

TEST_CASE("a rewriting ALG is detected on both legs, and named field by field") {
  asio::io_context io;
  // The client talks to 127.0.0.3; the proxy forwards from 127.0.0.4, whose
  // address it turns back into the client's on the way back (received=).
  auto proxy = start_proxy(io, {"127.0.0.1", "192.0.2.1", "received=127.0.0.4", "received=127.0.0.1"});
  auto r = run_check(io, {{"host", "127.0.0.3"}, {"port", sip_port_of(*proxy.responder)}, {"source_port", 0}},
                     proxy.responder->control_port);
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK_FALSE(r.outcome.error);
  CHECK(d["alg_detected"] == true);
  CHECK(d["rewritten"] == json::array({"Via", "From", "Call-ID", "Contact", "o=", "c="}));
  CHECK(d["response_via_rewritten"] == true);
  CHECK(d["sent"]["Contact"] != d["received"]["Contact"]);
  CHECK(d["received"]["c="] == "IN IP4 192.0.2.1");
  CHECK(d["observed_source"].get<std::string>().starts_with("127.0.0.4:"));
  CHECK(r.codes == std::vector<std::string>{"sip_alg.detected", "sip_alg.response_rewritten"});
  CHECK(r.outcome.findings[0].severity == Severity::critical);
  CHECK(r.outcome.findings[0].remediation.find("Disable SIP ALG") == 0);
}

TEST_CASE("INVITEs that vanish while REGISTERs pass are an ALG's doing") {
  asio::io_context io;
  FakeAlg alg;
  alg.drop_invites = true;
  auto proxy = start_proxy(io, alg);
  auto r = run_check(io,
                     {{"host", "127.0.0.3"},
                      {"port", sip_port_of(*proxy.responder)},
                      {"source_port", 0},
                      {"timeout_ms_per_request", 400}},
                     proxy.responder->control_port);
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK(d["alg_detected"] == true);
  CHECK(d["rewritten"] == json::array());
  CHECK(d["dropped"] == json::array({"INVITE over udp from an ephemeral port"}));
  CHECK(r.codes == std::vector<std::string>{"sip_alg.dropped"});
  CHECK(r.outcome.findings[0].operation == Operation::receive);
}

TEST_CASE("the responder serves the port but SIP is refused on the way: a finding, ALG presence unknown") {
  asio::io_context io;
  // The control port announces the mirror, but nothing listens there: the
  // path answers with ICMP port unreachable and TCP resets, like a REJECT.
  std::unique_ptr<Responder> responder;
  for (int attempt = 0; attempt < 20 && !responder; ++attempt)
    responder = start_responder(io, test::free_port(true), false);
  auto r = run_check(
      io, {{"host", "127.0.0.1"}, {"port", sip_port_of(*responder)}, {"transport", "both"}, {"source_port", 0}},
      responder->control_port);
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK_FALSE(r.outcome.error);
  CHECK(d["alg_detected"] == false);
  CHECK(r.codes == std::vector<std::string>{"sip_alg.refused"});
  CHECK(r.outcome.findings[0].severity == Severity::warning);
  CHECK(r.outcome.findings[0].operation != Operation::none);
  for (const auto& a : d["attempts"]) CHECK(a["outcome"] == "refused");
}

TEST_CASE("a silent mirror on an address whose RTT the control port measured: given up after 250 ms, not the timeout") {
  asio::io_context io;
  // The control port announces the mirror, and a socket that never answers
  // holds its UDP port (no ICMP error): SIP dropped on the way.
  std::unique_ptr<Responder> responder;
  std::unique_ptr<udp::socket> silent;
  for (int attempt = 0; attempt < 20 && !silent; ++attempt) {
    responder = start_responder(io, test::free_port(true), false);
    if (!responder) continue;
    silent = std::make_unique<udp::socket>(io, udp::v4());
    boost::system::error_code ec;
    silent->bind(udp::endpoint(asio::ip::make_address("127.0.0.1"), sip_port_of(*responder)), ec);
    if (ec) silent.reset();
  }
  REQUIRE(silent);
  auto start = std::chrono::steady_clock::now();
  auto r = run_check(
      io,
      {{"host", "127.0.0.1"}, {"port", sip_port_of(*responder)}, {"source_port", 0}, {"timeout_ms_per_request", 3000}},
      responder->control_port);
  auto took = std::chrono::steady_clock::now() - start;
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK_FALSE(r.outcome.error);
  CHECK(r.codes == std::vector<std::string>{"sip_alg.no_answer"});
  REQUIRE(d["attempts"].size() == 2);
  for (const auto& a : d["attempts"]) {
    CHECK(a["outcome"] == "no_response");
    CHECK(a["wait_basis"] == "rtt");
    // max(4 x RTT, 250 ms): the floor on loopback, unless a loaded machine measured more
    auto rtt = a["path_rtt_ms"].get<double>();
    CHECK(rtt < 100);
    CHECK(std::abs(a["wait_ms"].get<double>() - std::max(250.0, 4 * rtt)) <= 2);
  }
  CHECK(d["wait_basis"] == "rtt");
  CHECK(d["wait_ms"] == d["attempts"][0]["wait_ms"]);
  CHECK(r.outcome.findings[0].message.find("within " + std::to_string(d["wait_ms"].get<int>()) + " ms") !=
        std::string::npos);
  CHECK(took < std::chrono::milliseconds(1500));  // 2 x 3 s with the timeout
}

TEST_CASE("no responder running: a set-up error, not an ALG finding") {
  asio::io_context io;
  auto r =
      run_check(io, {{"host", "127.0.0.1"}, {"port", test::free_port(true)}, {"source_port", 0}}, test::free_port());
  INFO(r.outcome.details.dump(2));
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->operation == Operation::control);
  CHECK(r.codes.empty());
  CHECK(r.outcome.details["alg_detected"] == false);
}

TEST_CASE("a port the responder does not serve: a set-up error") {
  asio::io_context io;
  auto responder = start_mirror(io);
  auto other = static_cast<std::uint16_t>(sip_port_of(*responder) == 65535 ? 65534 : sip_port_of(*responder) + 1);
  auto r = run_check(io, {{"host", "127.0.0.1"}, {"port", other}, {"source_port", 0}}, responder->control_port);
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->operation == Operation::control);
  CHECK(r.outcome.error->message.find("does not serve sip on port " + std::to_string(other)) != std::string::npos);
  CHECK(r.codes.empty());
}

TEST_CASE("a token the responder rejects: a set-up error") {
  asio::io_context io;
  auto responder = start_mirror(io, "127.0.0.1", "s3cret");
  auto port = sip_port_of(*responder);
  auto r = run_check(io, {{"host", "127.0.0.1"}, {"port", port}, {"source_port", 0}}, responder->control_port, "wrong");
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::setup);
  CHECK(r.outcome.error->message.find("rejected the token") != std::string::npos);
  CHECK(r.codes.empty());

  auto ok =
      run_check(io, {{"host", "127.0.0.1"}, {"port", port}, {"source_port", 0}}, responder->control_port, "s3cret");
  CHECK_FALSE(ok.outcome.error);
  CHECK(ok.codes.empty());
}

TEST_CASE("a request that once ended the mirror's UDP loop is dropped, and the next one is answered") {
  asio::io_context io;
  auto responder = start_mirror(io);
  auto port = sip_port_of(*responder);
  // A Via whose parameter list opens a quote it never closes (found by fuzzing).
  std::string killer =
      "OPTIONS sip:a@b SIP/2.0\r\nVia: \"SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: "
      "<sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n";
  udp::socket sender(io, udp::endpoint(udp::v4(), 0));
  sender.send_to(asio::buffer(killer), udp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto r = run_check(io, {{"host", "127.0.0.1"}, {"port", port}, {"source_port", 0}}, responder->control_port);
  CHECK_FALSE(r.outcome.error);
  CHECK(r.codes.empty());
  CHECK(r.outcome.details["alg_detected"] == false);
}

TEST_CASE("with a token: the check's requests carry X-Callready-Auth and are mirrored within 1.0x") {
  asio::io_context io;
  auto responder = start_mirror(io, "127.0.0.1", "s3cret");
  auto r = run_check(io, {{"host", "127.0.0.1"}, {"port", sip_port_of(*responder)}, {"transport", "both"}},
                     responder->control_port, "s3cret");
  const auto& d = r.outcome.details;
  INFO(d.dump(2));
  CHECK_FALSE(r.outcome.error);
  REQUIRE(d["attempts"].size() == 8);  // {udp,tcp} x {fixed, ephemeral} x {INVITE, REGISTER}
  for (const auto& a : d["attempts"]) CHECK(a["outcome"] == "mirrored");
  CHECK(d["sent"].contains("X-Callready-Auth"));
  CHECK(d["sent"] == d["received"]);
  CHECK(r.codes.empty());
}
