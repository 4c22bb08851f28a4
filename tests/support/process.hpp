#pragma once
// Child processes for tests: real peers (dnsmasq, openssl s_server, coturn)
// and the callready binary itself. Killed by PID in the destructor, always.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace callready::test {

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with stdout+stderr to `log_file` (or /dev/null).
  explicit ChildProcess(std::vector<std::string> argv, std::string log_file = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_), exit_status_(o.exit_status_), log_(std::move(o.log_)) {
    o.pid_ = -1;
  }

  int pid() const { return pid_; }
  // False once it has exited (then reaped: its exit status is kept, its PID never signalled again).
  bool running();
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  // Waits for exit up to `limit`; nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds limit);
  std::string log() const;

 private:
  int pid_ = -1;
  std::optional<int> exit_status_;  // set when running() reaped it
  std::string log_;
};

struct RunResult {
  int exit_code = -1;  // -1 when killed for overrunning
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs a command to completion (bounded by `limit`), capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds limit = std::chrono::seconds(60),
              const std::vector<std::string>& extra_env = {});

// Calls `ready` every `poll` until it returns true (true) or `limit` has passed (false).
bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20));

// Polls until a TCP port on `host` (IPv4 or IPv6 literal) accepts, up to `limit`.
bool wait_for_tcp(const std::string& host, unsigned short port, std::chrono::milliseconds limit);

// Polls until a DNS server on `host`:`port` (UDP) answers a query, any answer
// (NXDOMAIN, REFUSED: the server is up), up to `limit`.
bool wait_for_dns(const std::string& host, unsigned short port, std::chrono::milliseconds limit);

// A port free on loopback for UDP and TCP alike (the kernel's pick for `udp`
// or TCP, checked for the other). Racy by nature but fine for tests that
// start their own servers right after.
unsigned short free_port(bool udp = false);

// A fresh temporary directory removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
bool have_program(const std::string& name);

}  // namespace callready::test
