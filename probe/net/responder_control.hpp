#pragma once
// The responder's control protocol (TCP, one JSON object per line, one
// exchange per connection):
//   responder -> {"service":"callready-respond","version":1,"nonce":"<hex>"}
//   client    -> {"op":"hello","proof":"<hex HMAC-SHA256(token, nonce)>"}   (proof omitted without token)
//   responder -> {"ok":true,"version":1,"token_required":bool,"observed":{"address":..,"port":..},
//                 "services":{"<service>":["A-B","C",..],..},
//                 "alt_address":"..","max_pps":N,"time_us":N}
//             or {"ok":false,"error":"unauthorized"|"bad_request"}
// Checks use it to learn which ports are served and to verify the token before
// a silent sweep would mistake a wrong token for a firewall.
// Instead of the hello, a client may send one request to a running service
// (both lines at most respond::kMaxServiceMessage bytes of JSON, plus the envelope):
//   client    -> {"op":"service","service":"<name>","proof":"<hex>","request":{..}}
//   responder -> {"ok":true,"reply":{..}}
//             or {"ok":false,"error":"unauthorized"|"bad_request"|"no_such_service"|"too_large"|"bad_reply"}
// A switch service (no ports) is listed in the hello's "services" with an empty list.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/model.hpp"

namespace callready::net {

inline constexpr unsigned short kDefaultControlPort = 7447;
inline constexpr int kControlVersion = 1;

// hex(HMAC-SHA256(token, nonce))
std::string control_proof(const std::string& token, const std::string& nonce);

struct ResponderInfo {
  enum class Failure { none, connect, timeout, unauthorized, protocol } failure = Failure::none;
  std::string error;  // which operation failed and why
  bool token_required = false;
  boost::asio::ip::tcp::endpoint observed;  // the client as the responder saw it
  // service name -> its ports, expanded and sorted
  std::map<std::string, std::vector<std::uint16_t>> services;
  std::string alt_address;
  int max_pps = 0;
  nlohmann::json raw;  // the whole answer
  bool ok() const { return failure == Failure::none; }
  const std::vector<std::uint16_t>& ports(const std::string& service) const;
  bool serves(const std::string& service, std::uint16_t port) const;
};

// The set-up error a cooperative check reports instead of a firewall finding
// when the responder is not running, rejected our token, or does not serve
// `service` on `port` (any port when absent). nullopt when it can go ahead.
std::optional<CheckError> setup_error(const ResponderInfo& info, const std::string& service,
                                      std::optional<std::uint16_t> port = std::nullopt);

// The pure readers of the responder's lines (the network parts around them
// only move bytes): a fuzz target feeds them anything a hostile or broken
// responder could send. None throws.
//
// The greeting's nonce when `line` is a callready responder's greeting.
std::optional<std::string> read_control_greeting(std::string_view line);

// One answer line: `answer` is set when it is an object with "ok" true;
// otherwise `failure` and `error` say why ("refusal" holds the responder's
// error word when it refused).
struct ControlAnswer {
  ResponderInfo::Failure failure = ResponderInfo::Failure::none;
  std::string refusal;
  std::string error;
  std::optional<nlohmann::json> answer;
};
ControlAnswer read_control_answer(std::string_view line);

// At most this many services are read from a hello's answer: each may list
// every port, and the scan keeps them expanded.
inline constexpr std::size_t kMaxAnsweredServices = 64;

// The hello's answer (an "ok" answer) as a ResponderInfo; a malformed field
// is a protocol failure that names it.
ResponderInfo read_hello_answer(const nlohmann::json& answer);

boost::asio::awaitable<ResponderInfo> query_responder(boost::asio::any_io_executor ex,
                                                      boost::asio::ip::tcp::endpoint control, std::string token,
                                                      std::chrono::milliseconds timeout);

// The answer to one service request.
struct ServiceAnswer {
  ResponderInfo::Failure failure = ResponderInfo::Failure::none;
  std::string refusal;  // the responder's error word when it refused ("no_such_service", ...)
  std::string error;    // which operation failed and why
  nlohmann::json reply;
  bool ok() const { return failure == ResponderInfo::Failure::none; }
};

// Sends `request` (a JSON object) to the responder's service `service`;
// `timeout` bounds the whole exchange, the service's work included.
boost::asio::awaitable<ServiceAnswer> ask_service(boost::asio::any_io_executor ex,
                                                  boost::asio::ip::tcp::endpoint control, std::string token,
                                                  std::string service, nlohmann::json request,
                                                  std::chrono::milliseconds timeout);

// The scan's responder, asked once per control endpoint and token: every
// cooperative check of a scan shares the answer (checks that ask while the
// first question is in flight wait for it).
class ResponderLink {
 public:
  // `default_control` is the control port of --responder (7447 when absent);
  // `token` the scan's --token.
  ResponderLink(boost::asio::any_io_executor ex, std::uint16_t default_control, std::string token);
  ~ResponderLink();
  ResponderLink(const ResponderLink&) = delete;
  ResponderLink& operator=(const ResponderLink&) = delete;

  // The responder at `address`, on `control_port` (default: the scan's), with
  // `token` (default: the scan's). `timeout` bounds the first question only.
  boost::asio::awaitable<ResponderInfo> ask(boost::asio::ip::address address,
                                            std::optional<std::uint16_t> control_port = std::nullopt,
                                            std::optional<std::string> token = std::nullopt,
                                            std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  std::uint16_t default_control_port() const { return default_control_; }

  struct Entry;

 private:
  boost::asio::any_io_executor ex_;
  std::uint16_t default_control_;
  std::string token_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Entry>> entries_;  // (control, token)
};

}  // namespace callready::net
