#include "probe/respond/control_server.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "probe/input_limits.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/port_ranges.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/respond/loop_faults.hpp"
#include "probe/respond/tcp_session_guard.hpp"

namespace callready::respond {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

tcp::endpoint parse_listen(const std::string& text) {
  // ":PORT" and "PORT" keep the default address; "ADDR" the default port.
  bool port_only = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  std::string spelled = text.starts_with(':') ? "0.0.0.0" + text : port_only ? "0.0.0.0:" + text : text;
  auto hp = net::parse_host_port(spelled);
  if (!hp) throw std::invalid_argument("bad listen address \"" + text + "\" (expected ADDR[:PORT])");
  boost::system::error_code ec;
  auto address = asio::ip::make_address(hp->host, ec);
  if (ec) throw std::invalid_argument("bad listen address \"" + hp->host + "\"");
  return {address, hp->port.value_or(net::kDefaultControlPort)};
}

namespace {

nlohmann::json services_json(const ResponderOptions& opts) {
  nlohmann::json services = nlohmann::json::object();
  // A switch service (no ports) is listed with an empty list.
  for (const auto& [name, ranges] : opts.ports)
    services[name] =
        ranges.empty() ? nlohmann::json::array() : nlohmann::json(net::merge_port_ranges(net::expand_ports(ranges)));
  return services;
}

std::string random_nonce() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

bool proof_ok(const ResponderOptions& opts, const std::string& nonce, const nlohmann::json& message) {
  if (opts.token.empty()) return true;
  std::string expected = net::control_proof(opts.token, nonce);
  auto proof = message.find("proof");
  if (proof == message.end() || !proof->is_string()) return false;
  const auto& given = proof->get_ref<const std::string&>();
  return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

// The string at `key`, or "" when absent or not a string (never throws).
std::string string_at(const nlohmann::json& message, const char* key) {
  auto it = message.find(key);
  return it != message.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json hello_answer(const ResponderOptions& opts, const tcp::endpoint& peer,
                            std::optional<std::chrono::seconds> session) {
  nlohmann::json answer = {{"ok", true},
                           {"version", net::kControlVersion},
                           {"token_required", !opts.token.empty()},
                           {"observed", {{"address", peer.address().to_string()}, {"port", peer.port()}}},
                           {"services", services_json(opts)},
                           {"alt_address", opts.alt_address},
                           {"max_pps", opts.max_pps},
                           {"time_us", std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()}};
  // How long keyed echo probes from this address are answered.
  if (session) answer["session_s"] = session->count();
  return answer;
}

// Hands the request to the service and waits for its reply, which may come
// from a later turn of the loop (or never: the session's timer bounds it).
asio::awaitable<nlohmann::json> forward(RunningService& service, const nlohmann::json& request,
                                        const std::string& peer) {
  struct Pending {
    std::optional<nlohmann::json> reply;
    Timer done;
    explicit Pending(asio::any_io_executor ex) : done(ex) { done.expires_at(Clock::time_point::max()); }
  };
  auto pending = std::make_shared<Pending>(co_await asio::this_coro::executor);
  service.request(request, peer, [pending](nlohmann::json reply) {
    if (pending->reply) return;
    pending->reply = std::move(reply);
    pending->done.cancel();
  });
  while (!pending->reply) {
    co_await pending->done.async_wait(asio::as_tuple(asio::use_awaitable));
    auto state = co_await asio::this_coro::cancellation_state;
    if (!pending->reply && state.cancelled() != asio::cancellation_type::none)
      throw boost::system::system_error(asio::error::operation_aborted);
  }
  co_return std::move(*pending->reply);
}

// {"op":"service","service":NAME,"proof":..,"request":{..}} -> {"ok":true,"reply":{..}}
asio::awaitable<nlohmann::json> service_answer(const ControlRequest& request, const ServiceRoutes& services,
                                               const std::string& peer) {
  auto route = services.find(request.service);
  if (route == services.end()) co_return nlohmann::json{{"ok", false}, {"error", "no_such_service"}};
  auto reply = co_await forward(*route->second, request.request, peer);
  if (!reply.is_object() || reply.dump().size() > kMaxServiceMessage)
    co_return nlohmann::json{{"ok", false}, {"error", "bad_reply"}};
  co_return nlohmann::json{{"ok", true}, {"reply", std::move(reply)}};
}

asio::awaitable<void> session(tcp::socket socket, const ResponderOptions& opts, ResponderLog log,
                              const ServiceRoutes& services, ControlSessions* sessions) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string nonce = random_nonce();
  nlohmann::json greeting = {{"service", "callready-respond"}, {"version", net::kControlVersion}, {"nonce", nonce}};
  std::string out = greeting.dump() + "\n";
  co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
  // A hello is small and a service request bounded: a longer line is an error, not a memory sink.
  asio::streambuf buf(kMaxControlLine);
  auto [read_error, n] = co_await asio::async_read_until(socket, buf, '\n', asio::as_tuple(asio::use_awaitable));
  if (read_error && read_error != asio::error::not_found) co_return;
  std::istream in(&buf);
  std::string line;
  std::getline(in, line);
  ControlRequest request;
  if (read_error)
    request.error = "too_large";
  else
    request = read_control_request(line, opts, nonce);
  std::string where = net::format_host_port(peer.address(), peer.port());
  nlohmann::json answer;
  if (!request.accepted()) {
    answer = {{"ok", false}, {"error", request.error}};
  } else if (request.op == ControlRequest::Op::hello) {
    // With a token, the hello opens this address's echo session (control_sessions.hpp).
    std::optional<std::chrono::seconds> granted;
    if (!opts.token.empty() && sessions)
      granted = sessions->open(peer.address(), request.session_lifetime, Clock::now());
    answer = hello_answer(opts, peer, granted);
  } else {
    answer = co_await service_answer(request, services, peer.address().to_string());
  }
  bool ok = answer["ok"].get<bool>();
  log(ok ? "debug" : "warn",
      "control: " + where + request.description + (ok ? "" : " refused: " + answer["error"].get<std::string>()));
  out = answer.dump() + "\n";
  co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
}

asio::awaitable<void> bounded_session(tcp::socket socket, const ResponderOptions& opts, ResponderLog log,
                                      const ServiceRoutes& services, ControlSessions* sessions) {
  Timer timer(socket.get_executor(), std::chrono::seconds(5));
  try {
    co_await (session(std::move(socket), opts, log, services, sessions) || timer.async_wait(asio::use_awaitable));
  } catch (const std::exception&) {
    // the client went away or sent garbage: nothing to answer
  }
}

}  // namespace

ControlRequest read_control_request(std::string_view line, const ResponderOptions& opts, const std::string& nonce) {
  ControlRequest r;
  if (line.size() > kMaxControlLine) {
    r.error = "too_large";
    return r;
  }
  // Bounded depth at parse time: nothing recursive (copying, dumping) meets a deeper one.
  JsonLimits limits;
  limits.max_depth = kMaxControlDepth;
  auto parsed = parse_json_bounded(line, limits);
  auto message = parsed.value ? std::move(*parsed.value) : nlohmann::json();
  std::string op = message.is_object() ? string_at(message, "op") : "";
  // Escaped and cut short: the log never carries raw or unbounded client bytes.
  r.description =
      op == "service" ? " service \"" + escape_for_message(string_at(message, "service"), 64) + "\"" : " hello";
  if (op != "hello" && op != "service") {
    r.error = "bad_request";
    return r;
  }
  if (!proof_ok(opts, nonce, message)) {
    r.error = "unauthorized";
    return r;
  }
  if (op == "hello") {
    if (auto asked = message.find("session_s"); asked != message.end()) {
      // Whole seconds, at least one; more than the most is granted the most.
      if (!asked->is_number_unsigned() || asked->get<std::uint64_t>() == 0) {
        r.error = "bad_request";
        return r;
      }
      auto most = static_cast<std::uint64_t>(ControlSessions::kMaxLifetime.count());
      r.session_lifetime = std::chrono::seconds(std::min(asked->get<std::uint64_t>(), most));
    }
    return r;
  }
  r.op = ControlRequest::Op::service;
  auto request = message.find("request");
  auto service = message.find("service");
  if (request == message.end() || !request->is_object() || service == message.end() || !service->is_string()) {
    r.error = "bad_request";
    return r;
  }
  r.service = service->get<std::string>();
  r.request = *request;
  return r;
}

ControlServer::ControlServer(asio::io_context& io, const ResponderOptions& opts, ResponderLog log,
                             ServiceRoutes services, ControlSessions* sessions)
    : io_(io),
      opts_(opts),
      log_(std::move(log)),
      services_(std::move(services)),
      sessions_(sessions),
      acceptor_(io),
      acceptor6_(io) {}

namespace {

std::string open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& where, bool v6_only) {
  boost::system::error_code ec;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && v6_only) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return "control port " + net::format_host_port(where.address(), where.port()) + ": " + ec.message();
  }
  return {};
}

}  // namespace

std::string ControlServer::start() {
  tcp::endpoint where;
  try {
    where = parse_listen(opts_.listen);
  } catch (const std::exception& e) {
    return e.what();
  }
  if (auto err = open_acceptor(acceptor_, where, false); !err.empty()) return err;
  // On the IPv4 wildcard, IPv6 too when the host has it (as the UDP echo
  // does): a client says hello over each family it probes from, since keyed
  // probes are answered only from an address that said hello.
  if (where.address().is_v4() && where.address().to_v4().is_unspecified()) {
    tcp::endpoint v6(asio::ip::address_v6::any(), acceptor_.local_endpoint().port());
    if (auto err = open_acceptor(acceptor6_, v6, true); !err.empty())
      log_("debug", "control: IPv6 wildcard not available, serving IPv4 only");
  }
  // Caps per source and in total, a pause instead of a spin on EMFILE/ENFILE,
  // and a log that a flood of refused hellos cannot flood (tcp_session_guard.hpp).
  auto limits = std::make_shared<TcpConnectionLimits>(kMaxControlConnections, kMaxControlPerSource);
  auto session_log = rate_limited_log(log_, "control");
  for (auto* acceptor : {&acceptor_, &acceptor6_}) {
    if (!acceptor->is_open()) continue;
    asio::co_spawn(
        io_,
        [this, acceptor, limits, session_log]() -> asio::awaitable<void> {
          // Arguments named first: GCC 12 miscompiles temporaries in a co_await-ed call.
          std::string name = "control";
          ConnectionHandler serve = [this, limits, session_log](std::shared_ptr<tcp::socket> sock,
                                                                std::unique_ptr<TcpSessionGuard> guard) {
            struct Held {  // the guard goes first, then the limits it counts in
              std::shared_ptr<TcpConnectionLimits> limits;
              std::unique_ptr<TcpSessionGuard> guard;
            };
            auto held = std::make_shared<Held>(Held{limits, std::move(guard)});
            asio::co_spawn(io_, bounded_session(std::move(*sock), opts_, session_log, services_, sessions_),
                           [held](std::exception_ptr) {});
          };
          Clock::duration idle = std::chrono::seconds(5);
          co_await accept_connections(*acceptor, *limits, name, log_, idle, serve);
        },
        asio::detached);
  }
  return {};
}

void ControlServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  acceptor6_.close(ec);
}

tcp::endpoint ControlServer::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

}  // namespace callready::respond
