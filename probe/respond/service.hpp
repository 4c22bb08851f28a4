#pragma once
// How `callready respond` hosts the far-end services of cooperative check
// kinds. A kind contributes a ServiceKind (its flag, its start-up, its name in
// the control greeting) through the registry; the host knows none of them.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/net/port_ranges.hpp"

namespace callready::respond {

// level: error|warn|info|debug
using ResponderLog = std::function<void(const std::string& level, const std::string& line)>;

class SessionLog;

// Messages at or above this level are logged (CLI: --log-level).
enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

struct ResponderOptions {
  std::string listen = "0.0.0.0:7447";   // control TCP port
  std::string bind_address = "0.0.0.0";  // where the served ports bind
  std::string alt_address;               // second IP for RFC 5780 (OTHER-ADDRESS)
  std::string token;
  int max_pps = 2000;  // per source address
  LogLevel log_level = LogLevel::info;
  // Service name -> the ports its flag asked for. Services absent here do not run.
  std::map<std::string, std::vector<net::PortRange>> ports;
};

// What the host lends a service while it runs.
struct ServiceHost {
  boost::asio::io_context& io;
  const ResponderOptions& options;
  SessionLog& sessions;
  ResponderLog log;
};

// A started service; stop() then destruction when the responder shuts down.
class RunningService {
 public:
  virtual ~RunningService() = default;
  virtual void stop() {}
  virtual void housekeeping(Clock::time_point) {}     // once a second
  virtual std::string summary() const { return {}; }  // for the shutdown log line
};

struct ServiceKind {
  std::string name;  // its key in the control greeting, e.g. "udp_echo"
  std::string flag;  // e.g. "--udp-ports"; takes a port list
  std::string help;
  std::size_t sockets_per_port = 2;  // for the open-files limit
  // Binds every port and starts; nullptr with `error` set when it could not.
  std::function<std::unique_ptr<RunningService>(ServiceHost&, const std::vector<net::PortRange>&, std::string& error)>
      start;
};

}  // namespace callready::respond
