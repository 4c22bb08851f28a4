#pragma once
// Path MTU search with DF set (IP_PMTUDISC_PROBE through EchoSocket):
// the largest IP packet that crosses the path, exact to the byte. The ICMP
// hint first (send the largest size; a Fragmentation Needed / Packet Too Big
// names the next-hop MTU, which is then confirmed), a binary search with
// retries where no ICMP comes back (the black hole case).
//
// "Arrived" means the responder's echo reply (minimal: never the probe's size
// back), or, in the reduced mode without a responder, an ICMP port unreachable
// from the target itself (the probe reached it). With neither, only an ICMP
// hint can be had.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "probe/model.hpp"

namespace callready::checks::pmtu {

struct SearchOptions {
  boost::asio::ip::udp::endpoint target;
  std::string token;
  int max_mtu = 1500;                                // the largest IP packet tried
  std::optional<std::chrono::milliseconds> timeout;  // per probe; default from the measured RTT
  int tries = 2;                                     // sends before a size counts as lost
  std::chrono::milliseconds budget{10000};           // the whole search
};

struct Tested {
  int size = 0;        // IP packet bytes
  std::string result;  // arrived | too_big | lost | local_too_big | rejected
  int mtu = 0;         // the MTU an ICMP / local error named
};

struct SearchResult {
  // responder | icmp_port_unreachable | icmp_hint_only | none
  std::string method = "none";
  std::optional<int> path_mtu;       // largest size that arrived (when method confirms arrivals)
  bool icmp_seen = false;            // an ICMP Fragmentation Needed / Packet Too Big arrived
  std::optional<int> icmp_mtu;       // the smallest MTU such an ICMP named
  bool black_hole = false;           // sizes above path_mtu vanished without ICMP
  bool upper_bound_reached = false;  // max_mtu itself arrived
  int probes_sent = 0;
  std::optional<int> route_mtu;  // IP_MTU / IPV6_MTU of the route before the search
  std::optional<int> local_mtu;  // an interface MTU below max_mtu (local EMSGSIZE)
  double rtt_ms = 0;             // of the first arrival
  std::vector<Tested> tested;
  // A device on the path answered the first probes with an ICMP error
  // (port unreachable from a router, administratively prohibited, ...):
  // what it said. The search stops there rather than wait out silence.
  std::optional<std::string> rejected_by;
  std::optional<CheckError> error;  // this machine could not open the socket or send (local)
};

// Bytes of IP + UDP header for the target's family.
int header_bytes(bool v6);
inline int header_bytes(const boost::asio::ip::udp::endpoint& target) { return header_bytes(target.address().is_v6()); }

boost::asio::awaitable<SearchResult> search_path_mtu(SearchOptions options);

}  // namespace callready::checks::pmtu
