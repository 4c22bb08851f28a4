#pragma once
// The network half of the SIP ALG check: one "channel" is one socket (UDP, or
// one TCP connection) from one source port to the responder's SIP mirror, over
// which each method is sent in turn. It records what happened; it judges nothing.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "checks/sip_alg/sip_alg_result.hpp"

namespace callready::checks::sip_alg {

struct ChannelSpec {
  bool tcp = false;
  boost::asio::ip::address remote;
  std::uint16_t remote_port = 5060;
  std::uint16_t source_port = 0;  // 0 = ephemeral
  std::vector<std::string> methods;
  std::chrono::milliseconds timeout{2000};  // per request
  std::string token;                        // the scan's: requests carry X-Callready-Auth
};

// One Exchange per method, in order. Never throws for network failures.
boost::asio::awaitable<std::vector<Exchange>> run_channel(ChannelSpec spec);

}  // namespace callready::checks::sip_alg
