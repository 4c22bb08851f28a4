#include "probe/respond/control_server.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "probe/net/port_ranges.hpp"
#include "probe/net/responder_control.hpp"
#include "probe/wire/echo_probe.hpp"

namespace callready::respond {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

tcp::endpoint parse_listen(const std::string& text) {
  std::string host = "0.0.0.0", port = text;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad listen address \"" + text + "\"");
    host = text.substr(1, close - 1);
    port = close + 1 < text.size() && text[close + 1] == ':' ? text.substr(close + 2) : "";
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else if (text.find('.') != std::string::npos) {
    host = text;
    port = "";
  }
  unsigned short number = net::kDefaultControlPort;
  if (!port.empty()) {
    auto spans = net::parse_port_spans(port);
    if (spans.size() != 1 || spans[0].first != spans[0].last)
      throw std::invalid_argument("bad listen port \"" + port + "\"");
    number = spans[0].first;
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("bad listen address \"" + host + "\"");
  return {address, number};
}

namespace {

nlohmann::json ranges_json(const std::vector<PortRange>& ranges) {
  std::vector<net::PortSpan> spans;
  for (const auto& r : ranges) spans.push_back({r.first, r.last});
  return net::merge_port_ranges(net::expand_ports(spans));
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

asio::awaitable<void> session(tcp::socket socket, const ResponderOptions& opts, ResponderLog log) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string nonce = random_nonce();
  nlohmann::json greeting = {{"service", "callready-respond"}, {"version", net::kControlVersion}, {"nonce", nonce}};
  std::string out = greeting.dump() + "\n";
  co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
  asio::streambuf buf(4096);  // a hello is small: a longer line is an error, not a memory sink
  co_await asio::async_read_until(socket, buf, '\n', asio::use_awaitable);
  std::istream in(&buf);
  std::string line;
  std::getline(in, line);
  auto hello = nlohmann::json::parse(line, nullptr, false);
  nlohmann::json answer;
  if (!hello.is_object() || hello.value("op", "") != "hello") {
    answer = {{"ok", false}, {"error", "bad_request"}};
  } else if (!opts.token.empty()) {
    std::string expected = net::control_proof(opts.token, nonce);
    std::string proof = hello.value("proof", "");
    if (proof.size() != expected.size() || CRYPTO_memcmp(proof.data(), expected.data(), expected.size()) != 0)
      answer = {{"ok", false}, {"error", "unauthorized"}};
  }
  if (answer.is_null()) {
    answer = {{"ok", true},
              {"version", net::kControlVersion},
              {"token_required", !opts.token.empty()},
              {"observed", {{"address", peer.address().to_string()}, {"port", peer.port()}}},
              {"udp_ports", ranges_json(opts.udp_ports)},
              {"stun_ports", ranges_json(opts.stun_ports)},
              {"tcp_ports", ranges_json(opts.tcp_ports)},
              {"sip_ports", ranges_json(opts.sip_ports)},
              {"alt_address", opts.alt_address},
              {"max_pps", opts.max_pps},
              {"time_us", wire::echo::now_us()}};
  }
  log(answer["ok"].get<bool>() ? "debug" : "warn",
      "control: " + peer.address().to_string() + ":" + std::to_string(peer.port()) +
          (answer["ok"].get<bool>() ? " hello" : " refused: " + answer["error"].get<std::string>()));
  out = answer.dump() + "\n";
  co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
}

asio::awaitable<void> bounded_session(tcp::socket socket, const ResponderOptions& opts, ResponderLog log) {
  asio::steady_timer timer(socket.get_executor(), std::chrono::seconds(5));
  try {
    co_await (session(std::move(socket), opts, log) || timer.async_wait(asio::use_awaitable));
  } catch (const std::exception&) {
    // the client went away or sent garbage: nothing to answer
  }
}

}  // namespace

ControlServer::ControlServer(asio::io_context& io, const ResponderOptions& opts, ResponderLog log)
    : io_(io), opts_(opts), log_(std::move(log)), acceptor_(io) {}

std::string ControlServer::start() {
  tcp::endpoint where;
  try {
    where = parse_listen(opts_.listen);
  } catch (const std::exception& e) {
    return e.what();
  }
  boost::system::error_code ec;
  acceptor_.open(where.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(where, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return "control port " + where.address().to_string() + ":" + std::to_string(where.port()) + ": " + ec.message();
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
          if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
          if (ec) continue;
          asio::co_spawn(io_, bounded_session(std::move(socket), opts_, log_), asio::detached);
        }
      },
      asio::detached);
  return {};
}

void ControlServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

tcp::endpoint ControlServer::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

TcpAcceptService::TcpAcceptService(asio::io_context& io, const ResponderOptions& opts, SessionLog& sessions)
    : io_(io), opts_(opts), sessions_(sessions) {}

std::string TcpAcceptService::start() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(opts_.bind_address, ec);
  if (ec) return "bad bind address \"" + opts_.bind_address + "\"";
  for (const auto& range : opts_.tcp_ports) {
    for (unsigned port = range.first; port <= range.last; ++port) {
      auto a = std::make_unique<tcp::acceptor>(io_);
      tcp::endpoint where(address, static_cast<unsigned short>(port));
      a->open(where.protocol(), ec);
      if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) a->bind(where, ec);
      if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return "bind TCP " + address.to_string() + ":" + std::to_string(port) + ": " + ec.message();
      accept(*a, static_cast<std::uint16_t>(port));
      acceptors_.push_back(std::move(a));
    }
  }
  return {};
}

void TcpAcceptService::accept(tcp::acceptor& a, std::uint16_t port) {
  a.async_accept([this, &a, port](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !a.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      auto peer = socket.remote_endpoint(ignored);
      sessions_.record("tcp-connect", peer.address(), 0, peer.port(), port, SessionLog::Outcome::accepted,
                       SessionLog::Clock::now());
      socket.close(ignored);
    }
    accept(a, port);
  });
}

void TcpAcceptService::stop() {
  boost::system::error_code ec;
  for (auto& a : acceptors_) a->close(ec);
}

}  // namespace callready::respond
