#pragma once
// A real dnsmasq on 127.0.0.1:<free port> serving the test's own records
// (dnsmasq command-line options such as "--host-record=..."), killed by PID.
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"

namespace callready::test {

struct Dnsmasq {
  TempDir dir;
  unsigned short port = free_port(true);
  std::optional<ChildProcess> proc;

  explicit Dnsmasq(const std::vector<std::string>& records) {
    std::vector<std::string> argv = {"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                                     "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                                     "--port=" + std::to_string(port), "--pid-file=" + dir.file("pid"),
                                     "--log-facility=" + dir.file("log"), "--user=root"};
    argv.insert(argv.end(), records.begin(), records.end());
    proc.emplace(argv, dir.file("stderr"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
  std::string log() const { return proc->log(); }
};

}  // namespace callready::test
