#pragma once
// Shared by the responder, udp_range and pmtu integration tests (header-only: each
// test file is its own executable): start `callready respond` on loopback with
// free ports, run a coroutine to completion.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"

namespace callready::test {

// A block of `count` consecutive ports free right now for UDP and TCP on every
// IPv4 address, below the kernel's ephemeral range: under `ctest -j` the other
// tests' client sockets (and their TIME_WAIT) take ephemeral ports, and the
// services started on the block bind TCP as well as UDP.
inline unsigned short free_udp_block(int count) {
  namespace asio = boost::asio;
  std::mt19937 rng(std::random_device{}());
  asio::io_context io;
  int ephemeral_first = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_first;
  const int lo = 20000, span = std::max(1, ephemeral_first - count - lo);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto first = static_cast<unsigned short>(lo + static_cast<int>(rng() % static_cast<unsigned>(span)));
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      asio::ip::udp::endpoint at{asio::ip::address_v4::any(), static_cast<unsigned short>(first + i)};
      boost::system::error_code ec;
      asio::ip::udp::socket u(io);
      u.open(asio::ip::udp::v4(), ec);
      u.bind(at, ec);
      ok = !ec;
      asio::ip::tcp::socket t(io);
      t.open(asio::ip::tcp::v4(), ec);
      t.bind({at.address(), at.port()}, ec);
      ok = ok && !ec;
    }
    if (ok) return first;
  }
  FAIL("no free block of UDP ports");
  return 0;
}

struct Responder {
  unsigned short control = 0;
  unsigned short udp_first = 0;
  std::unique_ptr<ChildProcess> process;
  std::string log_file;
};

// Starts the responder serving `udp_count` echo ports (a free block) and the
// `extra` arguments; waits for its control port. With `shell_prefix` the
// command runs in a shell after it (e.g. "ulimit -S -n 256; exec").
inline Responder start_responder(const TempDir& dir, int udp_count, std::vector<std::string> extra = {},
                                 std::string shell_prefix = {}) {
  Responder r;
  r.control = free_port();
  r.udp_first = free_udp_block(udp_count);
  r.log_file = dir.file("responder-" + std::to_string(r.control) + ".log");
  std::vector<std::string> argv = {
      CALLREADY_BINARY, "respond",
      "--listen",       "127.0.0.1:" + std::to_string(r.control),
      "--bind",         "127.0.0.1",
      "--udp-ports",    std::to_string(r.udp_first) + "-" + std::to_string(r.udp_first + udp_count - 1)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!shell_prefix.empty()) {
    std::string cmd = shell_prefix;
    for (const auto& a : argv) cmd += " '" + a + "'";
    argv = {"bash", "-c", cmd};
  }
  r.process = std::make_unique<ChildProcess>(argv, r.log_file);
  bool up = wait_for_tcp("127.0.0.1", r.control, std::chrono::seconds(10));
  if (!up) {
    INFO("responder log: " << r.process->log());
    FAIL("the responder did not open its control port");
  }
  return r;
}

// A control port that greets like `callready respond` and claims `services`,
// on its own thread; no UDP echo behind it, so the sweep meets what the test
// arranges (silent sockets, or nothing bound: ICMP port unreachable).
class FakeControl {
 public:
  explicit FakeControl(nlohmann::json services)
      : services_(std::move(services)), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(io_, serve(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeControl() {
    boost::asio::post(io_, [this] { acceptor_.close(); });
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      std::string greeting = R"({"service":"callready-respond","version":1,"nonce":"00"})"
                             "\n";
      co_await boost::asio::async_write(s, boost::asio::buffer(greeting),
                                        boost::asio::as_tuple(boost::asio::use_awaitable));
      boost::asio::streambuf hello;
      co_await boost::asio::async_read_until(s, hello, '\n', boost::asio::as_tuple(boost::asio::use_awaitable));
      std::string answer =
          nlohmann::json{{"ok", true}, {"version", 1}, {"token_required", false}, {"services", services_}}.dump() +
          "\n";
      co_await boost::asio::async_write(s, boost::asio::buffer(answer),
                                        boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }
  nlohmann::json services_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

template <class Awaitable>
auto run_io(boost::asio::io_context& io, Awaitable a) {
  auto f = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
  io.run();
  io.restart();
  return f.get();
}

}  // namespace callready::test
