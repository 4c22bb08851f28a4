#include "probe/respond/responder.hpp"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <stdexcept>

#include "probe/net/host_port.hpp"
#include "probe/net/port_ranges.hpp"
#include "probe/respond/control_server.hpp"
#include "probe/respond/control_sessions.hpp"
#include "probe/respond/session_log.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::respond {

namespace asio = boost::asio;

namespace {

// Services log with a level word; anything unknown counts as debug.
int level_rank(const std::string& level) {
  if (level == "error") return 0;
  if (level == "warn") return 1;
  if (level == "info") return 2;
  return 3;
}

std::size_t count_ports(const std::vector<net::PortRange>& ranges) {
  std::size_t n = 0;
  for (const auto& r : ranges) n += static_cast<std::size_t>(r.last - r.first) + 1;
  return n;
}

// Raises the soft open-files limit to the hard one (every descriptor this
// process may have is one more connection before EMFILE), then says whether
// `wanted` fits. Returns "" or why the limit stays too low.
std::string ensure_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return "getrlimit failed";
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted)
    return "needs " + std::to_string(wanted) + " file descriptors (ports and connection caps), the limit is " +
           std::to_string(lim.rlim_cur) + "; connections past it wait (accepts pause on EMFILE)";
  return {};
}

}  // namespace

int run_responder(const ResponderOptions& options, const std::vector<ServiceKind>& services) {
  const int threshold = static_cast<int>(options.log_level);
  ResponderLog log = [threshold](const std::string& level, const std::string& line) {
    if (level_rank(level) > threshold) return;
    std::time_t t = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    std::fprintf(stderr, "%s %-5s %s\n", when, level.c_str(), line.c_str());
    std::fflush(stderr);
  };

  // Ports, plus each service's TCP connection cap, plus the control port's.
  std::size_t fds = 64 + kMaxControlConnections;
  for (const auto& kind : services)
    if (auto it = options.ports.find(kind.name); it != options.ports.end() && !it->second.empty())
      fds += kind.sockets_per_port * count_ports(it->second) + kMaxTcpConnections;
  if (auto err = ensure_fd_limit(fds); !err.empty()) log("warn", "open-files limit: " + err);

  asio::io_context io(1);
  SessionLog sessions(log, std::chrono::seconds(5));
  ControlSessions control_sessions;  // opened by the control port, asked by the UDP echo
  ServiceHost host{io, options, sessions, log, &control_sessions};
  std::vector<std::unique_ptr<RunningService>> running;
  std::vector<std::string> served;
  std::map<std::string, RunningService*> routes;  // service requests on the control port
  for (const auto& kind : services) {
    auto it = options.ports.find(kind.name);
    if (it == options.ports.end() || (kind.takes_ports && it->second.empty())) continue;
    std::string err;
    auto service = kind.start(host, it->second, err);
    if (!service) {
      log("error", kind.name + ": " + err);
      return 1;
    }
    routes[kind.name] = service.get();
    running.push_back(std::move(service));
    served.push_back(kind.takes_ports ? std::to_string(count_ports(it->second)) + " " + kind.name + " ports"
                                      : kind.name);
  }
  // Last: an open control port tells clients (and tests) that every service is up.
  ControlServer control(io, options, log, routes, &control_sessions);
  if (auto err = control.start(); !err.empty()) {
    log("error", "control: " + err);
    return 1;
  }

  auto listen = control.local_endpoint();
  std::string ports_line;
  for (const auto& s : served) ports_line += ", " + s;
  log("info", "responder ready: control " + net::format_host_port(listen.address(), listen.port()) + ports_line +
                  (options.token.empty() ? ", no token (open)" : ", token required"));
  if (options.token.empty())
    log("warn",
        "no --token: the responder is an open reflector (anyone, including spoofed sources, gets answers, "
        "within per-source and total rate caps); set --token on any address the internet can reach");

  // Session lines and rate-limiter memory are settled once a second.
  Timer sweep(io);
  std::function<void()> arm_sweep = [&] {
    sweep.expires_after(std::chrono::seconds(1));
    sweep.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      auto now = Clock::now();
      sessions.expire(now);
      control_sessions.expire(now);
      for (auto& service : running) service->housekeeping(now);
      arm_sweep();
    });
  };
  arm_sweep();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log("info", std::string("shutting down on ") + (signo == SIGINT ? "SIGINT" : "SIGTERM"));
    io.stop();
  });
  io.run();

  control.stop();
  for (auto& service : running) service->stop();
  sessions.expire(Clock::now(), true);
  std::string stats;
  for (auto& service : running)
    if (auto line = service->summary(); !line.empty()) stats += (stats.empty() ? "" : "; ") + line;
  log("info", "responder stopped" + (stats.empty() ? std::string() : ": " + stats));
  return 0;
}

}  // namespace callready::respond
