#include "probe/net/responder_control.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <stdexcept>
#include <type_traits>

#include "probe/clock.hpp"
#include "probe/input_limits.hpp"
#include "probe/net/async.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/path_rtt.hpp"
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

std::optional<std::string> read_control_greeting(std::string_view line) {
  auto parsed = parse_json_bounded(line);
  if (!parsed.value || !parsed.value->is_object()) return std::nullopt;
  const auto& greeting = *parsed.value;
  auto service = greeting.find("service");
  if (service == greeting.end() || *service != "callready-respond") return std::nullopt;
  auto nonce = greeting.find("nonce");
  return nonce != greeting.end() && nonce->is_string() ? nonce->get<std::string>() : std::string();
}

ControlAnswer read_control_answer(std::string_view line) {
  ControlAnswer out;
  auto parsed = parse_json_bounded(line);
  if (!parsed.value || !parsed.value->is_object()) {
    out.failure = ResponderInfo::Failure::protocol;
    out.error = "control: answer is not JSON";
    return out;
  }
  auto& answer = *parsed.value;
  auto ok = answer.find("ok");
  if (ok == answer.end() || *ok != true) {
    auto error = answer.find("error");
    // The responder's word, printable and short: it ends up in a report.
    std::string why =
        error != answer.end() && error->is_string() ? escape_for_message(error->get<std::string>(), 64) : "";
    out.refusal = why.empty() ? "refused" : why;
    out.failure =
        out.refusal == "unauthorized" ? ResponderInfo::Failure::unauthorized : ResponderInfo::Failure::protocol;
    out.error = "control: responder said " + out.refusal;
    return out;
  }
  out.answer = std::move(answer);
  return out;
}

namespace {

std::vector<std::uint16_t> ports_of(const nlohmann::json& j) {
  std::string list;
  if (j.is_array())
    for (const auto& item : j)
      if (item.is_string()) list += (list.empty() ? "" : ",") + item.get<std::string>();
  if (list.empty()) return {};
  return expand_ports(parse_port_ranges(list));
}

asio::awaitable<std::string> read_line(tcp::socket& s, asio::streambuf& buf) {
  co_await asio::async_read_until(s, buf, '\n', asio::use_awaitable);
  std::istream in(&buf);
  std::string line;
  std::getline(in, line);
  co_return line;
}

// Connects, reads the greeting, sends `message` (with the token's proof of the
// greeting's nonce) and returns the answer when it is an object with "ok" true;
// nullopt with `failure` and `error` set otherwise.
template <class Answer>
asio::awaitable<std::optional<nlohmann::json>> control_exchange(tcp::socket& s, tcp::endpoint control,
                                                                const std::string& token, nlohmann::json message,
                                                                Answer& out) {
  auto connecting_since = Clock::now();
  auto [ec] = co_await s.async_connect(control, asio::as_tuple(asio::use_awaitable));
  // A SYN answered: one RTT to that host, for every silence wait of the scan.
  if (!ec) path_rtt(s.get_executor()).record(control.address(), Clock::now() - connecting_since);
  if (ec) {
    out.failure = ResponderInfo::Failure::connect;
    out.error = "control: connect " + format_host_port(control.address(), control.port()) + ": " + ec.message();
    co_return std::nullopt;
  }
  asio::streambuf buf(32768);
  auto greeting_line = co_await read_line(s, buf);
  auto nonce = read_control_greeting(greeting_line);
  if (!nonce) {
    out.failure = ResponderInfo::Failure::protocol;
    out.error = "control: not a callready responder";
    co_return std::nullopt;
  }
  if (!token.empty()) message["proof"] = control_proof(token, *nonce);
  std::string line = message.dump() + "\n";
  co_await asio::async_write(s, asio::buffer(line), asio::use_awaitable);
  auto answer_line = co_await read_line(s, buf);
  auto answer = read_control_answer(answer_line);
  if (!answer.answer) {
    if constexpr (std::is_same_v<Answer, ServiceAnswer>) out.refusal = answer.refusal;
    out.failure = answer.failure;
    out.error = answer.error;
  }
  co_return std::move(answer.answer);
}

asio::awaitable<ResponderInfo> exchange_or_throw(tcp::socket& s, tcp::endpoint control, std::string token) {
  ResponderInfo info;
  nlohmann::json hello = {{"op", "hello"}, {"version", kControlVersion}};
  auto ok = co_await control_exchange(s, control, token, hello, info);
  if (!ok) co_return info;
  co_return read_hello_answer(*ok);
}

// Never throws: under `||` a throwing branch would wait for the timer instead.
asio::awaitable<ResponderInfo> exchange(tcp::socket& s, tcp::endpoint control, std::string token) {
  try {
    co_return co_await exchange_or_throw(s, control, token);
  } catch (const boost::system::system_error& e) {
    ResponderInfo info;
    info.failure = ResponderInfo::Failure::protocol;
    info.error =
        "control: read/write " + format_host_port(control.address(), control.port()) + ": " + e.code().message();
    co_return info;
  }
}

// An integer field within [lo, hi]; absent is `absent`. Anything else (a
// float, 1e300, a string) throws naming the field: a cast would be undefined.
long long int_field(const nlohmann::json& object, const char* key, long long lo, long long hi, long long absent) {
  auto it = object.find(key);
  if (it == object.end()) return absent;
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (lo <= 0 && v <= static_cast<std::uint64_t>(hi)) return static_cast<long long>(v);
  } else if (it->is_number_integer()) {
    auto v = it->get<long long>();
    if (v >= lo && v <= hi) return v;
  }
  throw std::runtime_error(std::string("\"") + key + "\" is not an integer in " + std::to_string(lo) + ".." +
                           std::to_string(hi));
}

}  // namespace

ResponderInfo read_hello_answer(const nlohmann::json& answer) {
  ResponderInfo info;
  info.raw = answer;
  try {
    info.token_required = answer.value("token_required", false);
    if (auto it = answer.find("services"); it != answer.end() && it->is_object())
      for (const auto& [name, ports] : it->items()) {
        if (info.services.size() == kMaxAnsweredServices) break;
        info.services[name] = ports_of(ports);
      }
    info.alt_address = answer.value("alt_address", "");
    info.max_pps = static_cast<int>(int_field(answer, "max_pps", 0, 1'000'000'000, 0));
    if (auto o = answer.find("observed"); o != answer.end()) {
      if (!o->is_object()) throw std::runtime_error("\"observed\" is not an object");
      info.observed = tcp::endpoint(asio::ip::make_address(o->value("address", "")),
                                    static_cast<unsigned short>(int_field(*o, "port", 0, 65535, 0)));
    }
  } catch (const std::exception& e) {
    info.failure = ResponderInfo::Failure::protocol;
    info.error = "control: malformed answer: " + escape_for_message(e.what());
  }
  return info;
}

asio::awaitable<ResponderInfo> query_responder(asio::any_io_executor ex, tcp::endpoint control, std::string token,
                                               std::chrono::milliseconds timeout) {
  tcp::socket socket(ex);
  Timer timer(ex, timeout);
  ResponderInfo info;
  try {
    auto result = co_await (exchange(socket, control, token) || timer.async_wait(asio::use_awaitable));
    if (result.index() == 0) co_return std::get<0>(std::move(result));
    info.failure = ResponderInfo::Failure::timeout;
    info.error = "control: no answer from " + format_host_port(control.address(), control.port()) + " within " +
                 std::to_string(timeout.count()) + " ms";
  } catch (const boost::system::system_error& e) {
    info.failure = ResponderInfo::Failure::connect;
    info.error =
        "control: connect/read " + format_host_port(control.address(), control.port()) + ": " + e.code().message();
  }
  co_return info;
}

namespace {

// Never throws, like exchange().
asio::awaitable<ServiceAnswer> service_exchange(tcp::socket& s, tcp::endpoint control, std::string token,
                                                nlohmann::json message) {
  ServiceAnswer answer;
  try {
    auto ok = co_await control_exchange(s, control, token, std::move(message), answer);
    if (!ok) co_return answer;
    auto reply = ok->find("reply");
    if (reply == ok->end() || !reply->is_object()) {
      answer.failure = ResponderInfo::Failure::protocol;
      answer.error = "control: the service's answer has no reply object";
    } else {
      answer.reply = std::move(*reply);
    }
  } catch (const boost::system::system_error& e) {
    answer.failure = ResponderInfo::Failure::protocol;
    answer.error =
        "control: read/write " + format_host_port(control.address(), control.port()) + ": " + e.code().message();
  }
  co_return answer;
}

}  // namespace

asio::awaitable<ServiceAnswer> ask_service(asio::any_io_executor ex, tcp::endpoint control, std::string token,
                                           std::string service, nlohmann::json request,
                                           std::chrono::milliseconds timeout) {
  nlohmann::json message = {{"op", "service"}, {"service", service}, {"request", std::move(request)}};
  tcp::socket socket(ex);
  auto exchange_op = service_exchange(socket, control, token, std::move(message));
  auto answer = co_await with_timeout(std::move(exchange_op), timeout);
  if (answer) co_return std::move(*answer);
  ServiceAnswer late;
  late.failure = ResponderInfo::Failure::timeout;
  late.error = "control: no answer from service " + service + " at " +
               format_host_port(control.address(), control.port()) + " within " + std::to_string(timeout.count()) +
               " ms";
  co_return late;
}

const std::vector<std::uint16_t>& ResponderInfo::ports(const std::string& service) const {
  static const std::vector<std::uint16_t> none;
  auto it = services.find(service);
  return it == services.end() ? none : it->second;
}

bool ResponderInfo::serves(const std::string& service, std::uint16_t port) const {
  const auto& p = ports(service);
  return std::binary_search(p.begin(), p.end(), port);
}

std::optional<CheckError> setup_error(const ResponderInfo& info, const std::string& service,
                                      std::optional<std::uint16_t> port) {
  switch (info.failure) {
    case ResponderInfo::Failure::none:
      break;
    case ResponderInfo::Failure::unauthorized:
      return CheckError{ErrorReason::setup, Operation::control,
                        info.error + ": the responder rejected the token; set the same --token on both ends"};
    default:
      return CheckError{ErrorReason::setup, Operation::control,
                        info.error + ": is `callready respond` running there, and is its control port reachable?"};
  }
  if (port ? info.serves(service, *port) : info.services.count(service) > 0) return std::nullopt;
  std::string what = port ? service + " on port " + std::to_string(*port) : service;
  return CheckError{ErrorReason::setup, Operation::control,
                    "the responder does not serve " + what + "; start it with that service's ports"};
}

struct ResponderLink::Entry {
  std::optional<ResponderInfo> info;
  Timer answered;  // never expires; cancelled when the answer is in
  explicit Entry(asio::any_io_executor ex) : answered(ex) { answered.expires_at(Clock::time_point::max()); }
};

ResponderLink::ResponderLink(asio::any_io_executor ex, std::uint16_t default_control, std::string token)
    : ex_(std::move(ex)), default_control_(default_control), token_(std::move(token)) {}

ResponderLink::~ResponderLink() = default;

asio::awaitable<ResponderInfo> ResponderLink::ask(asio::ip::address address, std::optional<std::uint16_t> control_port,
                                                  std::optional<std::string> token, std::chrono::milliseconds timeout) {
  tcp::endpoint control(address, control_port.value_or(default_control_));
  std::string secret = token.value_or(token_);
  auto& entry = entries_[{format_host_port(address, control.port()), secret}];
  if (!entry) {
    entry = std::make_shared<Entry>(ex_);
    asio::co_spawn(
        ex_,
        [e = entry, control, secret, timeout]() -> asio::awaitable<void> {
          e->info = co_await query_responder(co_await asio::this_coro::executor, control, secret, timeout);
          e->answered.cancel();
        },
        asio::detached);
  }
  auto e = entry;
  while (!e->info) {
    co_await e->answered.async_wait(asio::as_tuple(asio::use_awaitable));
    auto state = co_await asio::this_coro::cancellation_state;
    if (!e->info && state.cancelled() != asio::cancellation_type::none)
      throw boost::system::system_error(asio::error::operation_aborted);
  }
  co_return *e->info;
}

}  // namespace callready::net
