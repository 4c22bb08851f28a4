#pragma once
// The responder's control protocol (TCP, one JSON object per line, one
// exchange per connection):
//   responder -> {"service":"callready-respond","version":1,"nonce":"<hex>"}
//   client    -> {"op":"hello","proof":"<hex HMAC-SHA256(token, nonce)>"}   (proof omitted without token)
//   responder -> {"ok":true,"version":1,"token_required":bool,"observed":{"address":..,"port":..},
//                 "udp_ports":["A-B",..],"stun_ports":[..],"tcp_ports":[..],"sip_ports":[..],
//                 "alt_address":"..","max_pps":N,"time_us":N}
//             or {"ok":false,"error":"unauthorized"|"bad_request"}
// Checks use it to learn which ports are served and to verify the token before
// a silent sweep would mistake a wrong token for a firewall.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace callready::net {

inline constexpr unsigned short kDefaultControlPort = 7447;
inline constexpr int kControlVersion = 1;

// hex(HMAC-SHA256(token, nonce))
std::string control_proof(const std::string& token, const std::string& nonce);

struct ResponderInfo {
  enum class Failure { none, connect, timeout, unauthorized, protocol } failure = Failure::none;
  std::string error;  // which operation failed and why
  bool token_required = false;
  boost::asio::ip::tcp::endpoint observed;                                 // the client as the responder saw it
  std::vector<std::uint16_t> udp_ports, stun_ports, tcp_ports, sip_ports;  // expanded, sorted
  std::string alt_address;
  int max_pps = 0;
  nlohmann::json raw;  // the whole answer
  bool ok() const { return failure == Failure::none; }
};

boost::asio::awaitable<ResponderInfo> query_responder(boost::asio::any_io_executor ex,
                                                      boost::asio::ip::tcp::endpoint control, std::string token,
                                                      std::chrono::milliseconds timeout);

}  // namespace callready::net
