#pragma once
// `tcp`: connect to host:port; every address of the host (IPv4 and IPv6) is
// tried and reported. Silence is waited out for max(4 x RTT, 250 ms) once
// the scan has measured an RTT to that address (net::PathRtt), else for the
// connect timeout; every connect that succeeds records its RTT there. measure() resolves and connects (TcpResult);
// judge_tcp() decides the findings from it, without sockets.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/path_rtt.hpp"

namespace callready::checks {

CheckKind tcp_check_kind();

namespace tcp {

struct TcpParams {
  std::string host;
  std::uint16_t port = 0;
  long long connect_timeout_ms = 3000;

  static TcpParams parse(ParamReader& r);
  std::string target() const;  // "host:port", "[v6]:port"
};

// One connection attempt to one address of the host.
struct TcpAttempt {
  boost::asio::ip::address address;
  bool connected = false;
  double rtt_ms = 0;                                 // until connected, or until it failed
  net::NetFailure failure = net::NetFailure::other;  // when not connected
  std::string message;                               // the system's words for the failure
  // When it timed out: how long silence was waited out and why that long
  // (an RTT measured to this address during the scan, or the connect timeout).
  std::optional<net::SilenceWait> silence;
  int syns = 1;  // connections opened: a second SYN goes out halfway through an RTT-derived wait
};

struct TcpResult {
  std::string host;
  std::uint16_t port = 0;
  checks::TargetAddresses resolved;
  std::vector<TcpAttempt> attempts;  // one per address, in the resolver's order (IPv4 first)

  const TcpAttempt* fastest_connected() const;
  // The attempt the report's top-level keys describe: the fastest that connected, else the first.
  const TcpAttempt* shown() const;
};

void to_json(nlohmann::json& j, const TcpResult& r);

Judgement judge_tcp(const TcpResult& r, const TcpParams& p);

// The attempts, one row per address.
view::View tcp_view(const nlohmann::json& details);

}  // namespace tcp
}  // namespace callready::checks
