#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace callready::test {

namespace {
int spawn(const std::vector<std::string>& argv, int out_fd, int err_fd, const std::vector<std::string>& extra_env) {
  int pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (const auto& e : extra_env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}
int decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status); }
}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_file) : log_(std::move(log_file)) {
  int fd = open(log_.empty() ? "/dev/null" : log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_ = spawn(argv, fd, fd, {});
  close(fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(std::chrono::milliseconds(1000));
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  int r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  // Reaped (or gone): forget the PID, which the kernel may now give to another process.
  exit_status_ = r == pid_ ? decode(status) : -1;
  pid_ = -1;
  return false;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds limit) {
  if (pid_ <= 0 && exit_status_) {
    auto s = exit_status_;
    exit_status_.reset();
    return s;
  }
  auto end = std::chrono::steady_clock::now() + limit;
  while (pid_ > 0) {
    int status = 0;
    int r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return decode(status);
    }
    if (r < 0) {
      pid_ = -1;
      return -1;
    }
    if (std::chrono::steady_clock::now() > end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return exit_status_.value_or(0);
  int pid = pid_;
  kill(pid, SIGTERM);
  if (auto s = wait(grace)) return *s;
  kill(pid, SIGKILL);
  return wait(std::chrono::seconds(5)).value_or(-9);
}

std::string ChildProcess::log() const { return log_.empty() ? std::string() : read_file(log_); }

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
              const std::vector<std::string>& extra_env) {
  TempDir dir;
  int out = open(dir.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(dir.file("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto start = std::chrono::steady_clock::now();
  int pid = spawn(argv, out, err, extra_env);
  close(out);
  close(err);
  RunResult r;
  auto end = start + limit;
  for (;;) {
    int status = 0;
    int w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      r.exit_code = decode(status);
      break;
    }
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  return r;
}

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit, std::chrono::milliseconds poll) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(poll);
  }
}

namespace {
// A socket address for an IPv4 or IPv6 literal.
struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;
};
Address address(const std::string& host, unsigned short port) {
  Address a;
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
    a.len = sizeof *in6;
    a.family = AF_INET6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &in4->sin_addr);
    a.len = sizeof *in4;
  }
  return a;
}

bool tcp_accepts(const Address& a) {
  int fd = socket(a.family, SOCK_STREAM, 0);
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len) == 0;
  close(fd);
  return ok;
}

// One DNS query (A ready.invalid) over UDP; true when an answer with its ID arrives within 200 ms.
bool dns_answers(const Address& a) {
  static unsigned short next_id = static_cast<unsigned short>(getpid());
  unsigned short id = ++next_id;
  std::string q = {static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  q.append(
      "\5ready\7invalid\0"
      "\0\1\0\1",
      19);  // QNAME, QTYPE A, QCLASS IN
  int fd = socket(a.family, SOCK_DGRAM, 0);
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  // Connected: a port nobody listens on yet fails at once (ICMP -> ECONNREFUSED), not after the timeout.
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len) == 0 &&
      send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size())) {
    unsigned char buf[512];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0) break;  // timeout, or ICMP port unreachable: not up yet
      if (n >= 12 && ((buf[0] << 8) | buf[1]) == id) {
        ok = true;
        break;
      }
    }
  }
  close(fd);
  return ok;
}
}  // namespace

bool wait_for_tcp(const std::string& host, unsigned short port, std::chrono::milliseconds limit) {
  auto a = address(host, port);
  return wait_until([&] { return tcp_accepts(a); }, limit);
}

bool wait_for_dns(const std::string& host, unsigned short port, std::chrono::milliseconds limit) {
  auto a = address(host, port);
  return wait_until([&] { return dns_answers(a); }, limit);
}

namespace {
// Binds `type` on 127.0.0.1:`port` (0: the kernel picks) without SO_REUSEADDR,
// so a TCP port held by a TIME_WAIT connection counts as taken. Returns the
// bound socket (the caller closes it) or -1, and the port in `port`.
int bind_loopback(int type, unsigned short& port) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}
}  // namespace

unsigned short free_port(bool udp) {
  // Free for both protocols: servers and checks often bind the number for
  // UDP and TCP alike (a SIP source port, a STUN port), and under ctest -j the
  // other tests' TCP connections hold many ports in TIME_WAIT.
  for (int attempt = 0; attempt < 50; ++attempt) {
    unsigned short port = 0;
    int first = bind_loopback(udp ? SOCK_DGRAM : SOCK_STREAM, port);
    if (first < 0) continue;
    int other = bind_loopback(udp ? SOCK_STREAM : SOCK_DGRAM, port);
    close(first);
    if (other >= 0) {
      close(other);
      return port;
    }
  }
  throw std::runtime_error("no loopback port free for both UDP and TCP");
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "callready-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}
void TempDir::write(const std::string& name, const std::string& contents) const {
  std::ofstream(file(name), std::ios::binary) << contents;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace callready::test
