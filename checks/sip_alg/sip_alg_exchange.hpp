#pragma once
// The network half of the SIP ALG check: one "channel" is one socket (UDP, or
// one TCP connection) from one source port to the responder's SIP mirror, over
// which each method is sent in turn and its mirrored copy compared.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "checks/sip_alg/sip_alg_probe.hpp"

namespace callready::checks::sip_alg {

struct Attempt {
  std::string transport;              // "udp" | "tcp"
  unsigned short requested_port = 0;  // source port asked for; 0 = ephemeral
  std::string local;                  // "ip:port" the probe sent from
  std::string method;
  // mirrored | no_mirror | no_response | refused | source_port_busy | connect_failed | send_failed
  std::string outcome;
  std::string error;
  int status = 0;  // the response's status code
  double rtt_ms = 0;
  std::optional<Diff> diff;       // when mirrored
  std::string observed_source;    // the source the responder saw ("ip:port")
  std::string response_received;  // ;received= of the response's Via as it arrived
  std::string response_rport;
  bool response_via_rewritten = false;  // received=/rport= differ from what the responder saw
};

struct ChannelSpec {
  bool tcp = false;
  boost::asio::ip::address remote;
  unsigned short remote_port = 5060;
  unsigned short source_port = 0;  // 0 = ephemeral
  std::vector<std::string> methods;
  std::chrono::milliseconds timeout{2000};  // per request
};

// One Attempt per method, in order. Never throws for network failures.
boost::asio::awaitable<std::vector<Attempt>> run_channel(ChannelSpec spec);

}  // namespace callready::checks::sip_alg
