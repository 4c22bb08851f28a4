#pragma once
// How `callready respond` hosts the far-end services of cooperative check
// kinds. A kind contributes a ServiceKind (its flag, its start-up, its name in
// the control greeting) through the registry; the host knows none of them.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/net/port_ranges.hpp"

namespace callready::respond {

// level: error|warn|info|debug
using ResponderLog = std::function<void(const std::string& level, const std::string& line)>;

class SessionLog;
class ControlSessions;

// Messages at or above this level are logged (CLI: --log-level).
enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

struct ResponderOptions {
  std::string listen = "0.0.0.0:7447";   // control TCP port
  std::string bind_address = "0.0.0.0";  // where the served ports bind
  std::string alt_address;               // second IP for RFC 5780 (OTHER-ADDRESS)
  std::string token;
  int max_pps = 2000;  // per source address
  LogLevel log_level = LogLevel::info;
  // Service name -> the ports its flag asked for. Services absent here do not run;
  // a switch service (ServiceKind::takes_ports false) is present with no ports.
  std::map<std::string, std::vector<net::PortRange>> ports;
  // A service's further options by flag ("--ice-stun" -> "HOST:PORT"), as written.
  std::map<std::string, std::string> settings;
};

// What the host lends a service while it runs.
struct ServiceHost {
  boost::asio::io_context& io;
  const ResponderOptions& options;
  SessionLog& sessions;
  ResponderLog log;
  // The addresses the control port opened an echo session for (a hello that
  // proved the token): with a token, keyed UDP echo probes are answered only
  // from them. Null: no control port, no keyed probe is answered.
  const ControlSessions* control_sessions = nullptr;
};

// Delivers the answer to a service request: called once, on the responder's
// io_context, with a JSON object (at most kMaxServiceMessage bytes when dumped).
using ServiceReply = std::function<void(nlohmann::json reply)>;

// The size limit of a service request and of its reply on the control channel.
inline constexpr std::size_t kMaxServiceMessage = 16384;

// A started service; stop() then destruction when the responder shuts down.
class RunningService {
 public:
  virtual ~RunningService() = default;
  // A request a client sent over the control channel after proving the token
  // ({"op":"service",...}); `peer` is its address. The reply may come later.
  virtual void request(const nlohmann::json& /*request*/, const std::string& /*peer*/, ServiceReply reply) {
    reply({{"error", "not_supported"}});
  }
  virtual void stop() {}
  virtual void housekeeping(Clock::time_point) {}     // once a second
  virtual std::string summary() const { return {}; }  // for the shutdown log line
};

// A further option of a service on `callready respond`, e.g. "--ice-stun".
struct ServiceOption {
  std::string flag;
  std::string help;
};

struct ServiceKind {
  std::string name;  // its key in the control greeting, e.g. "udp_echo"
  std::string flag;  // e.g. "--udp-ports"; takes a port list unless takes_ports is false
  std::string help;
  // false: `flag` is a switch; the service runs when it is given, with no ports.
  bool takes_ports = true;
  std::vector<ServiceOption> options;  // values land in ResponderOptions::settings
  std::size_t sockets_per_port = 2;    // for the open-files limit
  // Binds every port and starts; nullptr with `error` set when it could not.
  std::function<std::unique_ptr<RunningService>(ServiceHost&, const std::vector<net::PortRange>&, std::string& error)>
      start;
};

}  // namespace callready::respond
