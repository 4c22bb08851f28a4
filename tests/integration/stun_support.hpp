#pragma once
// Shared by the STUN integration tests (header-only; each test file is its own
// executable): run the `stun` check, start coturn or our own STUN service on
// loopback, and a blocking raw UDP client to poke servers with.
#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "checks/stun/stun_check.hpp"
#include "checks/stun/stun_codec.hpp"
#include "checks/stun/stun_service.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/path_rtt.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/respond/session_log.hpp"
#include "tests/integration/responder_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/skip.hpp"

namespace callready::test {

namespace stun = checks::stun;

// Runs the `stun` check to completion with `limit` as the engine's deadline.
// `settings` carries --responder/--token when a test names its responder;
// `prepare` runs first on the scan's executor (e.g. records an RTT another
// check of the same scan would have measured: net::path_rtt).
inline CheckOutcome try_stun_check(const nlohmann::json& params, std::chrono::milliseconds limit,
                                   const ScanSettings& settings = {},
                                   const std::function<void(const boost::asio::any_io_executor&)>& prepare = {}) {
  boost::asio::io_context io;
  if (prepare) prepare(io.get_executor());
  net::Resolver resolver(io.get_executor(), std::nullopt);
  std::uint16_t control = net::kDefaultControlPort;
  if (settings.responder)
    if (auto hp = net::parse_host_port(*settings.responder); hp && hp->port) control = *hp->port;
  net::ResponderLink link(io.get_executor(), control, settings.token);
  auto kind = checks::stun_check_kind();
  REQUIRE(kind.validate(params).empty());
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + limit, settings, link, [](const std::string&) {}};
  auto f = boost::asio::co_spawn(io, kind.run(params, ctx), boost::asio::use_future);
  io.run();
  return f.get();
}

// The same, for a run that must measure something (no error).
inline CheckOutcome run_stun_check(const nlohmann::json& params, std::chrono::milliseconds limit,
                                   const ScanSettings& settings = {},
                                   const std::function<void(const boost::asio::any_io_executor&)>& prepare = {}) {
  auto outcome = try_stun_check(params, limit, settings, prepare);
  INFO(outcome.details.dump());
  CHECK_FALSE(outcome.error.has_value());
  return outcome;
}

inline bool has_finding(const CheckOutcome& o, const std::string& code, Severity sev) {
  for (const auto& f : o.findings)
    if (f.code == code && f.severity == sev) return true;
  return false;
}

// coturn in STUN-only mode on 127.0.0.1:P (and with `rfc5780` also on
// 127.0.0.2, alternate port P+1: OTHER-ADDRESS = 127.0.0.2:P+1).
struct Coturn {
  TempDir dir;
  unsigned short port = 0;
  std::unique_ptr<ChildProcess> process;

  explicit Coturn(bool rfc5780) {
    port = free_udp_block(2);
    std::vector<std::string> argv = {
        "turnserver", "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip=127.0.0.1"};
    if (rfc5780) argv.push_back("--listening-ip=127.0.0.2");
    for (std::string a :
         {"--listening-port=" + std::to_string(port), "--alt-listening-port=" + std::to_string(port + 1),
          std::string("--relay-ip=127.0.0.1"), "--userdb=" + dir.file("turndb"), "--pidfile=" + dir.file("turn.pid"),
          "--log-file=" + dir.file("turn.log"), std::string("--no-stdout-log")})
      argv.push_back(a);
    process = std::make_unique<ChildProcess>(argv, dir.file("turnserver.out"));
    // Ready when it answers a Binding over UDP: its TCP listener comes up
    // first, and a check run before the UDP one is up sees no answer (or a
    // first answer late enough to inflate the RTT tests compare against).
    REQUIRE_MESSAGE(wait_until([&] { return answers_udp(); }, std::chrono::seconds(10)), process->log());
  }

  bool answers_udp() const;
};

// Our STUN service on its own io_context thread, as `callready respond` runs it.
struct StunServiceThread {
  boost::asio::io_context io;
  respond::SessionLog sessions{nullptr, std::chrono::seconds(5)};
  std::unique_ptr<respond::RunningService> service;
  std::thread thread;
  std::string error;

  explicit StunServiceThread(const respond::ResponderOptions& opts) {
    respond::ServiceHost host{io, opts, sessions, nullptr};
    auto it = opts.ports.find("stun");
    service =
        checks::stun_service().start(host, it == opts.ports.end() ? std::vector<net::PortRange>{} : it->second, error);
    if (error.empty()) thread = std::thread([this] { io.run(); });
  }
  ~StunServiceThread() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

inline respond::ResponderOptions stun_options(unsigned short port, std::string alt = "127.0.0.2") {
  respond::ResponderOptions o;
  o.bind_address = "127.0.0.1";
  o.alt_address = std::move(alt);
  o.ports["stun"] = {{port, port}};
  return o;
}

// A blocking UDP socket on 127.0.0.1 with a bounded receive.
struct RawUdp {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket sock{io};

  RawUdp() {
    sock.open(boost::asio::ip::udp::v4());
    sock.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  }
  void send(const stun::Bytes& b, unsigned short port, const std::string& ip = "127.0.0.1") {
    sock.send_to(boost::asio::buffer(b), {boost::asio::ip::make_address(ip), port});
  }
  struct Datagram {
    stun::Bytes bytes;
    stun::Endpoint from;
  };
  std::optional<Datagram> receive(std::chrono::milliseconds limit) {
    pollfd p{sock.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
    Datagram d;
    d.bytes.resize(2048);
    auto n = sock.receive_from(boost::asio::buffer(d.bytes), d.from);
    d.bytes.resize(n);
    return d;
  }
  unsigned short port() const { return sock.local_endpoint().port(); }
};

// Sends one Binding request over UDP; true when its answer comes back within 100 ms.
inline bool Coturn::answers_udp() const {
  RawUdp client;
  auto id = stun::random_transaction_id();
  stun::Builder request(stun::kBinding, stun::MessageClass::request, id);
  client.send(request.bytes(), port);
  while (auto d = client.receive(std::chrono::milliseconds(100))) {
    auto parsed = stun::parse(stun::ByteView(d->bytes.data(), d->bytes.size()));
    if (parsed.message && parsed.message->transaction_id == id) return true;
  }
  return false;
}

}  // namespace callready::test
