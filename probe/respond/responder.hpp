#pragma once
// `callready respond`: the far end cooperative checks talk to.
#include <string>
#include <vector>

namespace callready::respond {

struct PortRange {
  unsigned short first = 0, last = 0;
};

struct ResponderOptions {
  std::string listen = "0.0.0.0:7447";   // control TCP port
  std::vector<PortRange> udp_ports;      // UDP echo (authenticated probes)
  std::vector<PortRange> stun_ports;     // STUN Binding over UDP and TCP
  std::vector<PortRange> tcp_ports;      // accept and close, for reachability
  std::vector<PortRange> sip_ports;      // SIP mirror over UDP and TCP
  std::string bind_address = "0.0.0.0";  // where the UDP/TCP/STUN/SIP ports bind
  std::string alt_address;               // second IP for RFC 5780 (OTHER-ADDRESS)
  std::string token;
  int max_pps = 2000;                    // per source address
  std::string log_level = "info";        // error|warn|info|debug
};

// "5004,9000,19560-19661" -> ranges; throws std::invalid_argument naming the bad part.
std::vector<PortRange> parse_port_list(const std::string& text);

// Runs until SIGTERM/SIGINT; returns the process exit status.
int run_responder(const ResponderOptions& options);

}  // namespace callready::respond
