#include "probe/net/responder_control.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <istream>

#include "probe/net/port_ranges.hpp"

namespace callready::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

std::string control_proof(const std::string& token, const std::string& nonce) {
  unsigned char out[32];
  unsigned int len = sizeof out;
  static const unsigned char empty = 0;
  const void* key = token.empty() ? static_cast<const void*>(&empty) : token.data();
  HMAC(EVP_sha256(), key, static_cast<int>(token.size()), reinterpret_cast<const unsigned char*>(nonce.data()),
       nonce.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

namespace {

std::vector<std::uint16_t> ports_of(const nlohmann::json& j) {
  std::string list;
  if (j.is_array())
    for (const auto& item : j)
      if (item.is_string()) list += (list.empty() ? "" : ",") + item.get<std::string>();
  if (list.empty()) return {};
  return expand_ports(parse_port_spans(list));
}

asio::awaitable<std::string> read_line(tcp::socket& s, asio::streambuf& buf) {
  co_await asio::async_read_until(s, buf, '\n', asio::use_awaitable);
  std::istream in(&buf);
  std::string line;
  std::getline(in, line);
  co_return line;
}

asio::awaitable<ResponderInfo> exchange_or_throw(tcp::socket& s, tcp::endpoint control, std::string token) {
  ResponderInfo info;
  auto [ec] = co_await s.async_connect(control, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    info.failure = ResponderInfo::Failure::connect;
    info.error = "control: connect " + control.address().to_string() + ":" + std::to_string(control.port()) + ": " +
                 ec.message();
    co_return info;
  }
  asio::streambuf buf(16384);
  auto greeting = nlohmann::json::parse(co_await read_line(s, buf), nullptr, false);
  if (!greeting.is_object() || greeting.value("service", "") != "callready-respond") {
    info.failure = ResponderInfo::Failure::protocol;
    info.error = "control: not a callready responder";
    co_return info;
  }
  nlohmann::json hello = {{"op", "hello"}, {"version", kControlVersion}};
  if (!token.empty()) hello["proof"] = control_proof(token, greeting.value("nonce", ""));
  std::string line = hello.dump() + "\n";
  co_await asio::async_write(s, asio::buffer(line), asio::use_awaitable);
  auto answer = nlohmann::json::parse(co_await read_line(s, buf), nullptr, false);
  if (!answer.is_object()) {
    info.failure = ResponderInfo::Failure::protocol;
    info.error = "control: answer is not JSON";
    co_return info;
  }
  info.raw = answer;
  if (!answer.value("ok", false)) {
    std::string why = answer.value("error", "refused");
    info.failure = why == "unauthorized" ? ResponderInfo::Failure::unauthorized : ResponderInfo::Failure::protocol;
    info.error = "control: responder said " + why;
    co_return info;
  }
  try {
    info.token_required = answer.value("token_required", false);
    info.udp_ports = ports_of(answer.value("udp_ports", nlohmann::json::array()));
    info.stun_ports = ports_of(answer.value("stun_ports", nlohmann::json::array()));
    info.tcp_ports = ports_of(answer.value("tcp_ports", nlohmann::json::array()));
    info.sip_ports = ports_of(answer.value("sip_ports", nlohmann::json::array()));
    info.alt_address = answer.value("alt_address", "");
    info.max_pps = answer.value("max_pps", 0);
    if (answer.contains("observed")) {
      const auto& o = answer["observed"];
      info.observed = tcp::endpoint(asio::ip::make_address(o.value("address", "")),
                                    static_cast<unsigned short>(o.value("port", 0)));
    }
  } catch (const std::exception& e) {
    info.failure = ResponderInfo::Failure::protocol;
    info.error = std::string("control: malformed answer: ") + e.what();
  }
  co_return info;
}

// Never throws: under `||` a throwing branch would wait for the timer instead.
asio::awaitable<ResponderInfo> exchange(tcp::socket& s, tcp::endpoint control, std::string token) {
  try {
    co_return co_await exchange_or_throw(s, control, token);
  } catch (const boost::system::system_error& e) {
    ResponderInfo info;
    info.failure = ResponderInfo::Failure::protocol;
    info.error = "control: read/write " + control.address().to_string() + ":" + std::to_string(control.port()) + ": " +
                 e.code().message();
    co_return info;
  }
}

}  // namespace

asio::awaitable<ResponderInfo> query_responder(asio::any_io_executor ex, tcp::endpoint control, std::string token,
                                               std::chrono::milliseconds timeout) {
  tcp::socket socket(ex);
  asio::steady_timer timer(ex, timeout);
  ResponderInfo info;
  try {
    auto result = co_await (exchange(socket, control, token) || timer.async_wait(asio::use_awaitable));
    if (result.index() == 0) co_return std::get<0>(std::move(result));
    info.failure = ResponderInfo::Failure::timeout;
    info.error = "control: no answer from " + control.address().to_string() + ":" + std::to_string(control.port()) +
                 " within " + std::to_string(timeout.count()) + " ms";
  } catch (const boost::system::system_error& e) {
    info.failure = ResponderInfo::Failure::connect;
    info.error = "control: connect/read " + control.address().to_string() + ":" + std::to_string(control.port()) +
                 ": " + e.code().message();
  }
  co_return info;
}

}  // namespace callready::net
