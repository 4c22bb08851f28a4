#pragma once
// Shared by the responder and udp_range integration tests (header-only: each
// test file is its own executable): start `callready respond` on loopback with
// free ports, run a coroutine to completion.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace callready::test {

// A block of `count` consecutive UDP ports free right now on 127.0.0.1 (and ::1).
inline unsigned short free_udp_block(int count) {
  namespace asio = boost::asio;
  std::mt19937 rng(std::random_device{}());
  asio::io_context io;
  for (int attempt = 0; attempt < 50; ++attempt) {
    unsigned short first = static_cast<unsigned short>(20000 + rng() % (30000 - count));
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      asio::ip::udp::socket s(io);
      boost::system::error_code ec;
      s.open(asio::ip::udp::v4(), ec);
      s.bind({asio::ip::address_v4::any(), static_cast<unsigned short>(first + i)}, ec);
      ok = !ec;
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
