#pragma once
// A real dnsmasq on 127.0.0.1:<free port> serving the test's own records
// (dnsmasq command-line options such as "--host-record=..."), killed by PID.
// Ready when constructed: it has answered a query (5 s at most, else throws
// with its log); a port taken between the pick and the bind is picked again.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace callready::test {

struct Dnsmasq {
  TempDir dir;
  unsigned short port = 0;
  std::optional<ChildProcess> proc;

  explicit Dnsmasq(const std::vector<std::string>& records) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = free_port(true);
      std::vector<std::string> argv = {"dnsmasq",
                                       "--keep-in-foreground",
                                       "--conf-file=/dev/null",
                                       "--no-resolv",
                                       "--no-hosts",
                                       "--bind-interfaces",
                                       "--listen-address=127.0.0.1",
                                       "--port=" + std::to_string(port),
                                       "--pid-file=" + dir.file("pid"),
                                       "--log-facility=" + dir.file("log"),
                                       "--user=root"};
      argv.insert(argv.end(), records.begin(), records.end());
      proc.emplace(argv, dir.file("stderr"));
      bool exited = false;
      bool up = wait_until(
          [&] {
            if (!proc->running()) return exited = true;
            return wait_for_dns("127.0.0.1", port, std::chrono::milliseconds(1));
          },
          std::chrono::seconds(5));
      if (up && !exited) return;
      if (!exited || log().find("in use") == std::string::npos) break;
    }
    throw std::runtime_error("dnsmasq did not answer on 127.0.0.1:" + std::to_string(port) + ": " + log());
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
  std::string log() const { return proc->log(); }
};

}  // namespace callready::test
