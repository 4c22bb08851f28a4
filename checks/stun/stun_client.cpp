#include "checks/stun/stun_client.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <cmath>

#include "checks/common/icmp_error_queue.hpp"
#include "checks/common/silence.hpp"
#include "probe/net/async.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace callready::checks::stun {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

double ms_between(Clock::time_point start, Clock::time_point end) {
  return std::round(std::chrono::duration<double, std::milli>(end - start).count() * 10) / 10;
}

Millis offset(Clock::time_point start) { return std::chrono::duration_cast<Millis>(Clock::now() - start); }

// Why `r` is not the answer to transaction `id`; empty when it is.
std::string check_response(const ParseResult& r, const TransactionId& id, const std::string& password) {
  if (!r) return r.error;
  const auto& m = *r.message;
  if (m.transaction_id != id) return "a response to another transaction";
  if (!password.empty() && m.integrity_offset && !verify_message_integrity(m, short_term_key(password)))
    return "MESSAGE-INTEGRITY does not verify with the token";
  if (m.method != kBinding) return fmt::format("method 0x{:03x}, not Binding", m.method);
  if (m.cls != MessageClass::success && m.cls != MessageClass::error) return "not a response";
  if (auto unknown = m.unknown_comprehension_required(); !unknown.empty())
    return fmt::format("unknown comprehension-required attribute 0x{:04x}", unknown.front());
  return {};
}

void fail(Exchange& ex, Operation op, const boost::system::error_code& ec) {
  ex.failed = op;
  ex.failure = net::classify(ec);
  if (ex.failure == net::NetFailure::closed)
    ex.error = "the server closed the connection";
  else if (ex.failure == net::NetFailure::refused || ex.failure == net::NetFailure::timeout)
    ex.error = net::to_string(*ex.failure);
  else
    ex.error = fmt::format("{}: {}", to_string(op), ec.message());
}

bool is_icmp_failure(const boost::system::error_code& ec) {
  auto kind = net::classify(ec);
  return kind == net::NetFailure::refused || kind == net::NetFailure::unreachable;
}

// Drains the socket's error queue; the first ICMP error for a datagram sent
// to `server` (errors for other destinations belong to earlier exchanges on
// the same socket).
std::optional<IcmpError> icmp_error_for(udp::socket& sock, const Endpoint& server) {
  std::optional<IcmpError> found;
  for (int i = 0; i < 64; ++i) {  // bounded: the kernel caps the queue anyway
    auto q = read_icmp_error(sock.native_handle());
    if (!q.consumed) break;
    if (!found && q.icmp && q.icmp->destination == server) found = q.icmp;
  }
  return found;
}

void fail_icmp(Exchange& ex, const IcmpError& icmp) {
  ex.failed = Operation::receive;
  ex.failure = net::classify(boost::system::error_code(icmp.error, boost::system::system_category()));
  ex.error = icmp.describe();
  ex.icmp = icmp;
}

// One send; a pending ICMP error fails a send without sending it, so after
// reading the error the datagram is sent again (at most twice more).
boost::system::error_code send_request(udp::socket& sock, const Bytes& request, const Endpoint& server, Exchange& ex) {
  boost::system::error_code ec;
  for (int attempt = 0; attempt < 3; ++attempt) {
    sock.send_to(asio::buffer(request), server, 0, ec);
    if (!ec || !is_icmp_failure(ec)) return ec;
    if (auto icmp = icmp_error_for(sock, server)) {
      fail_icmp(ex, *icmp);
      return ec;
    }
  }
  return ec;
}

}  // namespace

Bytes binding_request(const TransactionId& id, const RequestOptions& opts) {
  Builder b(kBinding, MessageClass::request, id);
  if (!opts.password.empty()) b.add_string(attr::username, kUsername);
  if (opts.change_ip || opts.change_port) b.add_change_request(opts.change_ip, opts.change_port);
  b.add_string(attr::software, "callready");
  if (!opts.password.empty()) {
    constexpr std::size_t kTail = 4 + 20 + 4 + 4;  // MESSAGE-INTEGRITY and FINGERPRINT
    std::size_t have = b.bytes().size() + kTail;
    if (have + 4 <= kAuthenticatedRequestBytes) {
      Bytes zeros((kAuthenticatedRequestBytes - have - 4 + 3) / 4 * 4, 0);
      b.add(attr::padding, zeros);
    }
    b.add_message_integrity(short_term_key(opts.password));
  }
  return b.add_fingerprint().bytes();
}

Retransmission silence_schedule(const net::SilenceWait& rule) {
  Retransmission plan;
  plan.rto = std::max(Millis(1), rule.wait / 4);
  plan.max_sends = 3;
  plan.final_wait_rtos = 2;  // past the budget: the budget (rule.wait) ends it
  plan.budget = rule.wait;
  return plan;
}

namespace {

// The k-th send's time (k from 0) in `plan`, from the first send: RTOs doubling.
Clock::duration send_offset(const Retransmission& plan, int k) {
  Clock::duration t{};
  Clock::duration rto = plan.rto;
  for (int i = 0; i < k; ++i, rto *= 2) t += rto;
  return t;
}

// When `plan` gives up: Rm initial RTOs after its last send, never past its budget.
Clock::duration give_up_offset(const Retransmission& plan) {
  Clock::duration last = send_offset(plan, std::max(plan.max_sends, 1) - 1) + plan.rto * plan.final_wait_rtos;
  return std::min<Clock::duration>(last, plan.budget);
}

// The schedule in force now, and the silence rule it follows.
struct Schedule {
  Retransmission plan;
  net::SilenceWait rule;
};
Schedule schedule_now(const Retransmission& plan, const net::PathRtt& paths, const asio::ip::address& to) {
  Schedule s{plan, {}};
  if (plan.silence_from_rtt) {
    auto rule = paths.silence_wait(to, plan.budget);
    if (rule.basis == net::WaitBasis::rtt) s = Schedule{silence_schedule(rule), rule};
  }
  if (s.rule.basis == net::WaitBasis::timeout) s.rule.wait = std::chrono::duration_cast<Millis>(give_up_offset(plan));
  return s;
}

}  // namespace

asio::awaitable<Exchange> udp_exchange(udp::socket& sock, Endpoint server, RequestOptions opts, Retransmission plan) {
  using namespace asio::experimental::awaitable_operators;
  Exchange ex;
  boost::system::error_code ec;
  ex.local = sock.local_endpoint(ec);
  enable_icmp_errors(sock);
  auto id = random_transaction_id();
  auto request = binding_request(id, opts);
  auto executor = co_await asio::this_coro::executor;
  auto& paths = net::path_rtt(executor);
  const auto to = server.address();
  Timer window(executor);
  std::array<std::uint8_t, 1500> buf;
  const auto start = Clock::now();
  net::SilenceWait rule;
  for (;;) {
    // Worked out afresh each time round: an RTT learnt meanwhile changes it.
    auto s = schedule_now(plan, paths, to);
    rule = s.rule;
    const auto end = start + give_up_offset(s.plan);
    const int sent = ex.sent();
    const auto next = sent < s.plan.max_sends ? start + send_offset(s.plan, sent) : Clock::time_point::max();
    if (Clock::now() >= end) break;
    if (next <= Clock::now()) {
      ec = send_request(sock, request, server, ex);
      if (ec) {
        if (!ex.icmp) fail(ex, Operation::send, ec);
        ex.elapsed = Clock::now() - start;
        co_return ex;
      }
      ex.sent_at.push_back(offset(start));
      continue;
    }
    window.expires_at(std::min(next, end));
    // While the plan's own schedule runs, a recorded RTT may cut it short:
    // woken at a quarter of the new rule (its first retransmission).
    bool watch = plan.silence_from_rtt && s.rule.basis == net::WaitBasis::timeout;
    auto learning = rtt_learned(paths, to, start, plan.budget, 0.25, watch);
    Endpoint from;
    auto r = co_await (sock.async_receive_from(asio::buffer(buf), from, kUseTuple) || window.async_wait(kUseTuple) ||
                       std::move(learning));
    if (r.index() == 2) continue;
    if (r.index() == 1) {
      if (auto [tec] = std::get<1>(r); tec) {  // the engine cancelled the check
        fail(ex, Operation::receive, tec);
        ex.elapsed = Clock::now() - start;
        co_return ex;
      }
      continue;
    }
    auto [rec, n] = std::get<0>(r);
    if (rec) {
      if (is_icmp_failure(rec)) {
        // The ICMP error woke the receive; its details are on the error
        // queue. One for this server ends the wait; others are stale.
        if (auto icmp = icmp_error_for(sock, server)) {
          fail_icmp(ex, *icmp);
          ex.elapsed = Clock::now() - start;
          co_return ex;
        }
        continue;
      }
      fail(ex, Operation::receive, rec);
      ex.elapsed = Clock::now() - start;
      co_return ex;
    }
    auto parsed = parse(ByteView(buf.data(), n));
    if (auto why = check_response(parsed, id, opts.password); !why.empty()) {
      ex.junk = fmt::format("{} bytes from {}: {}", n, to_string(from), why);
      continue;
    }
    ex.answered = true;
    ex.response = std::move(*parsed.message);
    ex.responder = from;
    ex.elapsed = Clock::now() - start;
    ex.rtt_ms = ms_between(start, start + ex.elapsed);
    if (ex.sent() == 1 && from.address() == to) paths.record(to, ex.elapsed);
    co_return ex;
  }
  ex.elapsed = Clock::now() - start;
  ex.silence = rule;
  ex.failed = ex.junk.empty() ? Operation::receive : Operation::parse;
  ex.error = fmt::format("no answer to {} request(s) within {} ms", ex.sent(),
                         std::chrono::duration_cast<Millis>(ex.elapsed).count());
  co_return ex;
}

asio::awaitable<Exchange> tcp_exchange(Endpoint server, Millis connect_limit, Millis answer_limit,
                                       RequestOptions opts) {
  using namespace asio::experimental::awaitable_operators;
  Exchange ex;
  tcp::socket sock(co_await asio::this_coro::executor);
  tcp::endpoint target(server.address(), server.port());
  // A connect nobody answers is a DROP: waited out for max(4 x RTT, 250 ms)
  // once this scan knows an RTT to the address, else for connect_limit.
  auto& paths = net::path_rtt(sock.get_executor());
  const auto start = Clock::now();
  auto connecting = sock.async_connect(target, kUseTuple);
  auto silence = paths.wait_silence(server.address(), start, connect_limit);
  auto c = co_await (std::move(connecting) || std::move(silence));
  if (c.index() == 1) {
    ex.failed = Operation::connect;
    ex.failure = net::NetFailure::timeout;
    ex.error = "timeout";
    ex.silence = std::get<1>(c);
    ex.elapsed = Clock::now() - start;
    co_return ex;
  }
  if (auto [ec] = std::get<0>(c); ec) {
    fail(ex, Operation::connect, ec);
    ex.elapsed = Clock::now() - start;
    co_return ex;
  }
  paths.record(server.address(), Clock::now() - start);
  boost::system::error_code ec;
  auto local = sock.local_endpoint(ec);
  ex.local = Endpoint(local.address(), local.port());
  ex.responder = server;
  auto id = random_transaction_id();
  auto request = binding_request(id, opts);
  const auto sent = Clock::now();
  auto exchange = [&]() -> asio::awaitable<bool> {
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), kUseTuple);
    if (wec) {
      fail(ex, Operation::send, wec);
      co_return false;
    }
    ex.sent_at.push_back(offset(sent));
    std::array<std::uint8_t, 2048> buf;
    auto [rec, rn] = co_await asio::async_read(sock, asio::buffer(buf.data(), kHeaderSize), kUseTuple);
    if (rec) {
      fail(ex, Operation::receive, rec);
      co_return false;
    }
    auto frame = frame_length(ByteView(buf.data(), kHeaderSize));
    std::string why = frame.error;
    if (why.empty() && frame.total > buf.size()) why = fmt::format("{} bytes is too large", frame.total);
    if (why.empty()) {
      auto [rec2, rn2] =
          co_await asio::async_read(sock, asio::buffer(buf.data() + kHeaderSize, frame.total - kHeaderSize), kUseTuple);
      if (rec2) {
        fail(ex, Operation::receive, rec2);
        co_return false;
      }
      auto parsed = parse(ByteView(buf.data(), frame.total));
      why = check_response(parsed, id, opts.password);
      if (why.empty()) {
        ex.response = std::move(*parsed.message);
        co_return true;
      }
    }
    ex.failed = Operation::parse;
    ex.junk = why;
    ex.error = "response: " + why;
    co_return false;
  };
  auto r = co_await net::with_timeout(exchange(), answer_limit);
  ex.elapsed = Clock::now() - start;
  if (!r) {
    ex.failed = Operation::receive;
    ex.error = fmt::format("no answer within {} ms", answer_limit.count());
  } else if (*r) {
    ex.answered = true;
    auto rtt = Clock::now() - sent;
    ex.rtt_ms = ms_between(sent, sent + rtt);
    paths.record(server.address(), rtt);
  }
  co_return ex;
}

Route local_address_towards(const Endpoint& server) {
  Route route;
  asio::io_context scratch;
  udp::socket s(scratch);
  s.open(server.protocol(), route.error);
  if (!route.error) s.connect(server, route.error);
  if (route.error) return route;
  auto local = s.local_endpoint(route.error);
  if (!route.error) route.local = local.address();
  return route;
}

}  // namespace callready::checks::stun
