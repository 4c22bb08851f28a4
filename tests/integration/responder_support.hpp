#pragma once
// Shared by the responder and udp_range integration tests (header-only: each
// test file is its own executable): start `callready respond` on loopback with
// free ports, run a coroutine to completion.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <string>
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

template <class Awaitable>
auto run_io(boost::asio::io_context& io, Awaitable a) {
  auto f = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
  io.run();
  io.restart();
  return f.get();
}

}  // namespace callready::test
