#include "probe/respond/responder.hpp"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <stdexcept>

#include "probe/net/port_ranges.hpp"
#include "probe/respond/control_server.hpp"
#include "probe/respond/services.hpp"
#include "probe/respond/session_log.hpp"
#include "probe/respond/udp_echo_service.hpp"

namespace callready::respond {

namespace asio = boost::asio;

std::vector<PortRange> parse_port_list(const std::string& text) {
  std::vector<PortRange> out;
  for (const auto& s : net::parse_port_spans(text)) out.push_back({s.first, s.last});
  return out;
}

namespace {

int level_rank(const std::string& level) {
  if (level == "error") return 0;
  if (level == "warn") return 1;
  if (level == "info") return 2;
  if (level == "debug") return 3;
  return -1;
}

std::size_t count_ports(const std::vector<PortRange>& ranges) {
  std::size_t n = 0;
  for (const auto& r : ranges) n += static_cast<std::size_t>(r.last - r.first) + 1;
  return n;
}

// Raises the soft open-files limit toward the hard one when the ports need it.
// Returns "" or why the limit stays too low.
std::string ensure_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return "getrlimit failed";
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= wanted) return {};
  rlimit want = lim;
  want.rlim_cur =
      lim.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(lim.rlim_max, std::max<rlim_t>(wanted, lim.rlim_cur));
  if (want.rlim_cur > lim.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &want) != 0) return "setrlimit failed";
  if (want.rlim_cur < wanted)
    return "needs " + std::to_string(wanted) + " file descriptors, hard limit is " + std::to_string(lim.rlim_max);
  return {};
}

}  // namespace

int run_responder(const ResponderOptions& options) {
  const int threshold = level_rank(options.log_level);
  if (threshold < 0) {
    std::fprintf(stderr, "callready respond: bad log level \"%s\" (error|warn|info|debug)\n",
                 options.log_level.c_str());
    return 2;
  }
  ResponderLog log = [threshold](const std::string& level, const std::string& line) {
    if (level_rank(level) > threshold) return;
    std::time_t t = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    std::fprintf(stderr, "%s %-5s %s\n", when, level.c_str(), line.c_str());
    std::fflush(stderr);
  };

  // Each UDP/TCP port may use two sockets (IPv4 and IPv6), STUN/SIP UDP and TCP.
  std::size_t fds = 64 + 2 * (count_ports(options.udp_ports) + count_ports(options.tcp_ports)) +
                    4 * (count_ports(options.stun_ports) + count_ports(options.sip_ports));
  if (auto err = ensure_fd_limit(fds); !err.empty()) log("warn", "open-files limit: " + err);

  asio::io_context io(1);
  SessionLog sessions(log, std::chrono::seconds(5));
  ControlServer control(io, options, log);
  UdpEchoService echo(io, options, sessions, log);
  TcpAcceptService tcp(io, options, sessions);

  auto fail = [&](const std::string& what, const std::string& err) {
    log("error", what + ": " + err);
    return 1;
  };
  if (auto err = echo.start(); !err.empty()) return fail("udp-echo", err);
  if (auto err = tcp.start(); !err.empty()) return fail("tcp", err);
  if (!options.stun_ports.empty())
    if (auto err = start_stun_service(io, options, log); !err.empty()) return fail("stun", err);
  if (!options.sip_ports.empty())
    if (auto err = start_sip_service(io, options, log); !err.empty()) return fail("sip", err);
  // Last: an open control port tells clients (and tests) that every service is up.
  if (auto err = control.start(); !err.empty()) return fail("control", err);

  auto listen = control.local_endpoint();
  log("info", "responder ready: control " + listen.address().to_string() + ":" + std::to_string(listen.port()) + ", " +
                  std::to_string(count_ports(options.udp_ports)) + " UDP echo ports (" +
                  std::to_string(echo.sockets()) + " sockets), " + std::to_string(count_ports(options.tcp_ports)) +
                  " TCP ports, " + std::to_string(count_ports(options.stun_ports)) + " STUN ports, " +
                  std::to_string(count_ports(options.sip_ports)) + " SIP ports" +
                  (options.token.empty() ? ", no token (open)" : ", token required"));

  // Session lines and rate-limiter memory are settled once a second.
  asio::steady_timer sweep(io);
  std::function<void()> arm_sweep = [&] {
    sweep.expires_after(std::chrono::seconds(1));
    sweep.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      auto now = SessionLog::Clock::now();
      sessions.expire(now);
      echo.housekeeping(now);
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
  echo.stop();
  tcp.stop();
  sessions.expire(SessionLog::Clock::now(), true);
  const auto& s = echo.stats();
  log("info", "responder stopped: " + std::to_string(s.answered) + " probes answered, " +
                  std::to_string(s.rate_limited) + " rate-limited, " + std::to_string(s.unauthenticated) +
                  " unauthenticated, " + std::to_string(s.malformed) + " malformed");
  return 0;
}

}  // namespace callready::respond
