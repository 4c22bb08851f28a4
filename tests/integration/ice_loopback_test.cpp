// The ice check on loopback against a real `callready respond --ice` (its
// own STUN service as the agents' STUN server) and coturn as TURN: a host
// pair with probes echoed; relay_only through coturn; wrong TURN credentials
// named (401, fast); a dead TURN server capped; the control channel's service
// requests (malformed descriptions, unknown service, too large); a responder
// without --ice is a set-up error.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>

#include "checks/ice/ice_codec.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/registry.hpp"
#include "tests/integration/responder_support.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct IceResponder {
  unsigned short control = 0, stun = 0;
  std::unique_ptr<test::ChildProcess> process;
};

// The responder's agents use its own STUN service, or `ice_stun` when given.
IceResponder start_responder(const test::TempDir& dir, bool ice, const std::string& token = "",
                             const std::string& ice_stun = "") {
  IceResponder r;
  r.control = test::free_port();
  r.stun = test::free_udp_block(1);
  std::vector<std::string> argv = {
      CALLREADY_BINARY, "respond",   "--listen",     "127.0.0.1:" + std::to_string(r.control),
      "--bind",         "127.0.0.1", "--stun-ports", std::to_string(r.stun)};
  if (ice) {
    argv.push_back("--ice");
    argv.push_back("--ice-stun");
    argv.push_back(ice_stun.empty() ? "127.0.0.1:" + std::to_string(r.stun) : ice_stun);
  }
  if (!token.empty()) argv.insert(argv.end(), {"--token", token});
  r.process = std::make_unique<test::ChildProcess>(argv, dir.file("responder-" + std::to_string(r.control) + ".log"));
  REQUIRE_MESSAGE(test::wait_for_tcp("127.0.0.1", r.control, 10s), r.process->log());
  return r;
}

// coturn with long-term credentials alice:secret on 127.0.0.1, relaying on loopback.
struct TurnServer {
  test::TempDir dir;
  unsigned short port = 0;
  std::unique_ptr<test::ChildProcess> process;
  TurnServer() {
    port = test::free_udp_block(1);
    std::vector<std::string> argv = {"turnserver",
                                     "-n",
                                     "--no-cli",
                                     "--no-tls",
                                     "--no-dtls",
                                     "--listening-ip=127.0.0.1",
                                     "--relay-ip=127.0.0.1",
                                     "--listening-port=" + std::to_string(port),
                                     "--lt-cred-mech",
                                     "--user=alice:secret",
                                     "--realm=callready.test",
                                     "--allow-loopback-peers",
                                     "--cli-password=unused",
                                     "--userdb=" + dir.file("turndb"),
                                     "--pidfile=" + dir.file("turn.pid"),
                                     "--log-file=" + dir.file("turn.log"),
                                     "--no-stdout-log"};
    process = std::make_unique<test::ChildProcess>(argv, dir.file("turnserver.out"));
    REQUIRE_MESSAGE(test::wait_for_tcp("127.0.0.1", port, 10s), process->log());
  }
};

CheckOutcome run_ice(json params, unsigned short control, const std::string& token = "") {
  const CheckKind* kind = find_check_kind("ice");
  REQUIRE(kind);
  INFO(params.dump());
  REQUIRE(kind->validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 20s, settings, link, nullptr};
  return test::run_io(io, kind->run(params, ctx));
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> c;
  for (const auto& f : o.findings) c.push_back(f.code);
  return c;
}

net::ServiceAnswer ask(unsigned short control, const std::string& service, json request,
                       const std::string& token = "") {
  asio::io_context io;
  asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), control);
  return test::run_io(io, net::ask_service(io.get_executor(), at, token, service, std::move(request), 5000ms));
}

}  // namespace

TEST_CASE("ice on loopback: a host pair over UDP, probes echoed, no relay") {
  test::TempDir dir;
  auto r = start_responder(dir, true, "s3cret");
  auto started = std::chrono::steady_clock::now();
  auto o = run_ice({{"stun", "127.0.0.1:" + std::to_string(r.stun)}}, r.control, "s3cret");
  auto took = std::chrono::steady_clock::now() - started;
  const auto& d = o.details;
  INFO(d.dump());
  INFO(o.summary);
  REQUIRE_FALSE(o.error);
  CHECK(o.findings.empty());
  CHECK(d["selected_pair"]["local_type"] == "host");
  CHECK(d["selected_pair"]["remote_type"] == "host");
  CHECK(d["selected_pair"]["transport"] == "udp");
  CHECK(d["relay_required"] == false);
  CHECK(d["candidates"]["host"].get<int>() >= 1);
  CHECK(d["remote_candidates"]["host"].get<int>() >= 1);
  CHECK(d["gathering_complete"] == true);
  CHECK(d["connected_ms"].get<double>() < 2000);
  CHECK(d["rtt_ms"].is_number());
  CHECK(d["probes"]["echoed"] == 5);
  CHECK(took < 5s);
}

TEST_CASE("ice relay_only through coturn: a relay pair, relay_required reported") {
  if (!test::have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  test::TempDir dir;
  TurnServer turn;
  auto r = start_responder(dir, true);
  auto o = run_ice({{"turn", "127.0.0.1:" + std::to_string(turn.port)},
                    {"turn_username", "alice"},
                    {"turn_password", "secret"},
                    {"relay_only", true}},
                   r.control);
  const auto& d = o.details;
  INFO(d.dump());
  INFO(o.summary);
  REQUIRE_FALSE(o.error);
  CHECK(d["turn_check"]["allocate"] == "allocated");
  CHECK(d["candidates"]["relay"].get<int>() >= 1);
  CHECK(d["selected_pair"]["local_type"] == "relay");
  CHECK(d["relay_required"] == true);
  CHECK(codes(o).empty());  // relay_only asked for the relay: no warning
}

TEST_CASE("ice with wrong TURN credentials: ice.turn_unauthorized, not a timeout") {
  if (!test::have_program("turnserver")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  test::TempDir dir;
  TurnServer turn;
  auto r = start_responder(dir, true);
  auto o = run_ice(
      {{"turn", "127.0.0.1:" + std::to_string(turn.port)}, {"turn_username", "alice"}, {"turn_password", "wrong"}},
      r.control);
  INFO(o.details.dump());
  REQUIRE_FALSE(o.error);
  auto c = codes(o);
  CHECK(std::find(c.begin(), c.end(), "ice.turn_unauthorized") != c.end());
  CHECK(std::find(c.begin(), c.end(), "ice.turn_unreachable") == c.end());
  CHECK(o.details["turn_check"]["error_code"] == 401);
  CHECK(o.details["selected_pair"]["local_type"] == "host");  // the direct path still works
}

TEST_CASE("ice with a dead TURN server: gathering ends at its cap, the finding names the server") {
  test::TempDir dir;
  auto r = start_responder(dir, true);
  auto dead = test::free_udp_block(1);
  std::string server = "127.0.0.1:" + std::to_string(dead);
  auto o = run_ice({{"turn", server}, {"turn_username", "alice"}, {"turn_password", "secret"}, {"gather_cap_ms", 1500}},
                   r.control);
  const auto& d = o.details;
  INFO(d.dump());
  REQUIRE_FALSE(o.error);
  CHECK(d["gathering_ms"].get<double>() <= 1500 + 700);
  CHECK(d["turn_check"]["allocate"] == "unreachable");
  bool named = false, refused = false;
  for (const auto& f : o.findings)
    if (f.code == "ice.turn_unreachable") {
      named = f.message.find(server) != std::string::npos;
      // Nothing listens there: the kernel's ICMP port unreachable ends the
      // Allocate at once instead of its retransmissions up to the cap.
      refused = f.message.find("refused at once with ICMP") != std::string::npos;
    }
  CHECK(named);
  CHECK(refused);
}

TEST_CASE("a responder without --ice: a setup error") {
  test::TempDir dir;
  auto r = start_responder(dir, false);
  auto o = run_ice(json::object(), r.control);
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
  CHECK(o.error->message.find("ice") != std::string::npos);
}

std::size_t open_descriptors(int pid) {
  std::error_code ec;
  auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
  return ec ? 0 : static_cast<std::size_t>(std::distance(it, std::filesystem::directory_iterator()));
}

TEST_CASE("a responder stopped while its ICE agent gathers exits cleanly") {
  // A dead STUN server keeps the agent gathering (up to the service's cap)
  // while the responder is told to stop: the agents are released before the
  // GLib thread ends, and none calls into it afterwards (a use after free
  // that the TSan and ASan builds report).
  test::TempDir dir;
  auto dead = test::free_udp_block(1);
  auto r = start_responder(dir, true, "", "127.0.0.1:" + std::to_string(dead));
  auto before = open_descriptors(r.process->pid());
  checks::ice::Description offer{"abcd", "0123456789abcdefghijkl", {}};
  json request = {{"description", checks::ice::to_message(offer)}};
  auto asking = std::async(std::launch::async, [&] { return ask(r.control, "ice", request); });
  // The agent's sockets are open: it is gathering.
  CHECK(test::wait_until([&] { return open_descriptors(r.process->pid()) > before + 1; }, 3000ms));
  int status = r.process->stop();
  CHECK(status == 0);
  INFO(r.process->log());
  CHECK(r.process->log().find("Sanitizer") == std::string::npos);
  asking.wait();
}

TEST_CASE("control channel service requests: malformed, unknown, too large, wrong token") {
  test::TempDir dir;
  auto r = start_responder(dir, true, "s3cret");
  auto bad = ask(r.control, "ice", {{"description", {{"ufrag", "x"}}}}, "s3cret");
  REQUIRE(bad.ok());
  CHECK(bad.reply["error"] == "bad_request");
  CHECK(bad.reply["message"].get<std::string>().find("pwd") != std::string::npos);
  auto unknown = ask(r.control, "nothing", json::object(), "s3cret");
  CHECK(unknown.refusal == "no_such_service");
  json huge = {{"description", std::string(20000, 'a')}};
  CHECK(ask(r.control, "ice", huge, "s3cret").refusal == "too_large");
  auto wrong = ask(r.control, "ice", json::object(), "nope");
  CHECK(wrong.failure == net::ResponderInfo::Failure::unauthorized);
  // A service that has no request hook answers not_supported.
  auto stun = ask(r.control, "stun", json::object(), "s3cret");
  REQUIRE(stun.ok());
  CHECK(stun.reply["error"] == "not_supported");
}
