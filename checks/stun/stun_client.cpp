#include "probe/clock.hpp"
#include "checks/stun/stun_client.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "probe/net/async.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using SteadyClock = callready::Clock;

namespace callready::checks::stun_client {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

double ms_since(SteadyClock::time_point start) {
  return std::round(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count() * 10) / 10;
}

// Why `bytes` is not the answer to transaction `id`; empty when it is.
std::string check_response(const stun::ParseResult& r, const stun::TransactionId& id) {
  if (!r) return r.error;
  const auto& m = *r.message;
  if (m.transaction_id != id) return "a response to another transaction";
  if (m.method != stun::kBinding) return fmt::format("method 0x{:03x}, not Binding", m.method);
  if (m.cls != stun::MessageClass::success && m.cls != stun::MessageClass::error) return "not a response";
  if (auto unknown = m.unknown_comprehension_required(); !unknown.empty())
    return fmt::format("unknown comprehension-required attribute 0x{:04x}", unknown.front());
  return {};
}

}  // namespace

stun::Bytes binding_request(const stun::TransactionId& id, const RequestOptions& opts) {
  stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
  if (opts.change_ip || opts.change_port) b.add_change_request(opts.change_ip, opts.change_port);
  b.add_string(stun::attr::software, "callready");
  return b.add_fingerprint().bytes();
}

asio::awaitable<Exchange> udp_exchange(udp::socket& sock, stun::Endpoint server, RequestOptions opts,
                                       Retransmission plan) {
  Exchange ex;
  boost::system::error_code ec;
  ex.local = sock.local_endpoint(ec);
  auto id = stun::random_transaction_id();
  auto request = binding_request(id, opts);
  auto start = SteadyClock::now();
  auto give_up = start + plan.budget;
  auto next_send = start;
  auto rto = plan.rto;
  std::array<std::uint8_t, 1500> buf;
  while (SteadyClock::now() < give_up) {
    auto now = SteadyClock::now();
    if (now >= next_send && ex.sent < plan.max_sends) {
      sock.send_to(asio::buffer(request), server, 0, ec);
      if (ec) {
        ex.error = "send: " + ec.message();
        co_return ex;
      }
      ++ex.sent;
      // After the last send, wait Rm RTOs of the initial value (RFC 5389 §7.2.1).
      next_send = ex.sent < plan.max_sends ? now + rto : now + plan.rto * plan.final_wait_rtos;
      rto *= 2;
    }
    auto wake = std::min(next_send, give_up);
    auto limit = std::chrono::duration_cast<Millis>(wake - SteadyClock::now());
    if (limit.count() <= 0) {
      if (ex.sent >= plan.max_sends && next_send <= SteadyClock::now()) break;
      continue;
    }
    stun::Endpoint from;
    auto r = co_await net::with_timeout(sock.async_receive_from(asio::buffer(buf), from, kUseTuple), limit);
    if (!r) {
      if (ex.sent >= plan.max_sends && SteadyClock::now() >= next_send) break;
      continue;
    }
    auto [rec, n] = *r;
    if (rec == asio::error::operation_aborted) break;  // the engine cancelled the check
    if (rec) continue;  // e.g. an ICMP error queued on the socket; keep waiting until the plan ends
    auto parsed = stun::parse(stun::ByteView(buf.data(), n));
    if (auto why = check_response(parsed, id); !why.empty()) {
      ex.junk = fmt::format("{} bytes from {}: {}", n, stun::to_string(from), why);
      continue;
    }
    ex.answered = true;
    ex.response = std::move(*parsed.message);
    ex.responder = from;
    ex.rtt_ms = ms_since(start);
    co_return ex;
  }
  ex.error = fmt::format("no answer to {} request(s) within {} ms", ex.sent, static_cast<long long>(ms_since(start)));
  co_return ex;
}

asio::awaitable<Exchange> tcp_exchange(stun::Endpoint server, Millis connect_limit, Millis answer_limit) {
  Exchange ex;
  tcp::socket sock(co_await asio::this_coro::executor);
  tcp::endpoint target(server.address(), server.port());
  auto c = co_await net::with_timeout(sock.async_connect(target, kUseTuple), connect_limit);
  if (!c) {
    ex.error = "connect: timeout";
    co_return ex;
  }
  if (auto [ec] = *c; ec) {
    ex.error = ec == asio::error::connection_refused ? "connect: refused" : "connect: " + ec.message();
    co_return ex;
  }
  boost::system::error_code ec;
  auto local = sock.local_endpoint(ec);
  ex.local = stun::Endpoint(local.address(), local.port());
  ex.responder = server;
  auto id = stun::random_transaction_id();
  RequestOptions plain;
  auto request = binding_request(id, plain);
  auto start = SteadyClock::now();
  auto exchange = [&]() -> asio::awaitable<std::string> {
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), kUseTuple);
    if (wec) co_return "write: " + wec.message();
    ex.sent = 1;
    std::array<std::uint8_t, 2048> buf;
    auto [rec, rn] = co_await asio::async_read(sock, asio::buffer(buf.data(), stun::kHeaderSize), kUseTuple);
    if (rec) co_return rec == asio::error::eof ? "the server closed the connection" : "read: " + rec.message();
    auto frame = stun::frame_length(stun::ByteView(buf.data(), stun::kHeaderSize));
    if (!frame.error.empty()) co_return "response: " + frame.error;
    if (frame.total > buf.size()) co_return fmt::format("response: {} bytes is too large", frame.total);
    auto [rec2, rn2] = co_await asio::async_read(
        sock, asio::buffer(buf.data() + stun::kHeaderSize, frame.total - stun::kHeaderSize), kUseTuple);
    if (rec2) co_return "read: " + rec2.message();
    auto parsed = stun::parse(stun::ByteView(buf.data(), frame.total));
    if (auto why = check_response(parsed, id); !why.empty()) co_return "response: " + why;
    ex.response = std::move(*parsed.message);
    co_return "";
  };
  auto r = co_await net::with_timeout(exchange(), answer_limit);
  if (!r) {
    ex.error = fmt::format("no answer within {} ms", answer_limit.count());
  } else if (!r->empty()) {
    ex.error = *r;
    if (r->rfind("response: ", 0) == 0) ex.junk = r->substr(10);
  } else {
    ex.answered = true;
    ex.rtt_ms = ms_since(start);
  }
  co_return ex;
}

std::optional<asio::ip::address> local_address_towards(const stun::Endpoint& server) {
  boost::system::error_code ec;
  asio::io_context scratch;
  udp::socket s(scratch);
  s.open(server.protocol(), ec);
  if (!ec) s.connect(server, ec);
  if (ec) return std::nullopt;
  auto local = s.local_endpoint(ec);
  if (ec) return std::nullopt;
  return local.address();
}

}  // namespace callready::checks::stun_client
