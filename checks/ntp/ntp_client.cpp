#include "checks/ntp/ntp_client.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>

#include "checks/common/icmp_error_queue.hpp"

namespace asio = boost::asio;
using asio::ip::udp;

namespace callready::checks::ntp {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Millis since(Clock::time_point start) { return std::chrono::duration_cast<Millis>(Clock::now() - start); }

bool is_icmp_failure(const boost::system::error_code& ec) {
  auto kind = net::classify(ec);
  return kind == net::NetFailure::refused || kind == net::NetFailure::unreachable;
}

void fail(Exchange& ex, Operation op, const boost::system::error_code& ec) {
  ex.failed = op;
  ex.failure = net::classify(ec);
  ex.error = fmt::format("{}: {}", to_string(op), ec.message());
}

// The socket is connected, so every queued ICMP error is about our server;
// the last one says the most recent thing the path did. The kernel bounds
// the queue; so does the loop.
bool take_icmp(udp::socket& sock, Exchange& ex) {
  std::optional<IcmpError> last;
  for (int i = 0; i < 64; ++i) {
    auto q = read_icmp_error(sock.native_handle());
    if (!q.consumed) break;
    if (q.icmp) last = q.icmp;
  }
  if (!last) return false;
  ex.failed = Operation::receive;
  ex.failure = net::classify(boost::system::error_code(last->error, boost::system::system_category()));
  ex.error = last->describe();
  ex.icmp = last;
  return true;
}

// When the exchange ends if nothing else happens: before any reply, at the
// silence limit; once answered, `last_wait` after the last request; never
// after the budget.
Clock::time_point end_of(const Exchange& ex, const Schedule& plan, Clock::time_point start) {
  auto cap = start + plan.budget;
  if (!ex.answered()) return std::min(cap, start + plan.silence);
  if (ex.sent() < plan.samples) return cap;
  return std::min(cap, start + ex.sent_at.back() + plan.last_wait);
}

bool finished(const Exchange& ex, const Schedule& plan) {
  for (const auto& r : ex.replies)
    if (r.kind == ReplyKind::kiss) return true;  // RFC 5905 §7.4: stop talking to it
  return ex.sent() >= plan.samples && static_cast<int>(ex.replies.size()) >= ex.sent();
}

struct Outstanding {
  Timestamp nonce;
  Timestamp t1;  // our clock when it left
  bool answered = false;
};

// Takes one datagram: a valid reply to one of our outstanding requests is
// recorded, anything else counted with its reason.
void take_datagram(Exchange& ex, std::vector<Outstanding>& requests, ByteView bytes, Timestamp t4, Millis at) {
  auto parsed = parse(bytes);
  if (!parsed) {
    ++ex.rejected_replies;
    ex.rejected_reason = parsed.error;
    return;
  }
  const auto& p = *parsed.packet;
  std::string why = "origin timestamp does not echo any of our requests (a stale, duplicated or forged reply)";
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& req = requests[i];
    if (p.origin != req.nonce) continue;
    auto a = accept_reply(p, req.nonce);
    if (!a.kind) {
      why = a.error;
      break;
    }
    if (req.answered) {
      why = "a second reply to the same request";
      break;
    }
    req.answered = true;
    Reply r;
    r.request = static_cast<int>(i);
    r.packet = p;
    r.kind = *a.kind;
    r.sample = sample_of(req.t1, p.receive, p.transmit, t4);
    r.arrived = at;
    ex.replies.push_back(r);
    return;
  }
  ++ex.rejected_replies;
  ex.rejected_reason = why;
}

}  // namespace

Timestamp system_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return from_unix_ns(std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

asio::awaitable<Exchange> sntp_exchange(udp::socket& sock, Endpoint server, Schedule plan, WallClock wall) {
  using namespace asio::experimental::awaitable_operators;
  Exchange ex;
  boost::system::error_code ec;
  enable_icmp_errors(sock);
  sock.connect(server, ec);
  if (ec) {
    fail(ex, Operation::connect, ec);
    co_return ex;
  }
  ex.local = sock.local_endpoint(ec);
  Timer window(co_await asio::this_coro::executor);
  std::array<std::uint8_t, 1024> buf;
  std::vector<Outstanding> requests;
  const auto start = Clock::now();
  auto next_send = start;  // the schedule: late wake-ups do not shift it
  for (;;) {
    if (finished(ex, plan)) break;
    if (ex.sent() < plan.samples && Clock::now() >= next_send && Clock::now() < end_of(ex, plan, start)) {
      Outstanding req{random_nonce(), wall()};
      auto request = client_request(req.nonce);
      sock.send(asio::buffer(request), 0, ec);
      if (ec) {
        if (!is_icmp_failure(ec) || !take_icmp(sock, ex)) fail(ex, Operation::send, ec);
        break;
      }
      requests.push_back(req);
      ex.sent_at.push_back(since(start));
      next_send += plan.spacing;
    }
    auto end = end_of(ex, plan, start);
    if (Clock::now() >= end) break;
    window.expires_at(ex.sent() < plan.samples ? std::min(next_send, end) : end);
    auto r = co_await (sock.async_receive(asio::buffer(buf), kUseTuple) || window.async_wait(kUseTuple));
    if (r.index() == 1) {
      if (auto [tec] = std::get<1>(r); tec) {  // the engine cancelled the check
        fail(ex, Operation::receive, tec);
        break;
      }
      continue;
    }
    auto [rec, n] = std::get<0>(r);
    auto t4 = wall();
    if (rec) {
      // An ICMP error woke the receive; its details are on the error queue.
      if (!is_icmp_failure(rec) || !take_icmp(sock, ex)) fail(ex, Operation::receive, rec);
      break;
    }
    take_datagram(ex, requests, ByteView(buf.data(), n), t4, since(start));
  }
  ex.elapsed = Clock::now() - start;
  if (!ex.answered() && ex.failed == Operation::none) {
    ex.failed = ex.rejected_replies > 0 ? Operation::parse : Operation::receive;
    ex.error = fmt::format("no valid reply to {} request(s) within {} ms", ex.sent(),
                           std::chrono::duration_cast<Millis>(ex.elapsed).count());
  }
  co_return ex;
}

const Reply* best_sample(const Exchange& ex) {
  const Reply* best = nullptr;
  for (const auto& r : ex.replies)
    if (r.kind == ReplyKind::sample && (!best || r.sample.delay_ms < best->sample.delay_ms)) best = &r;
  return best;
}

}  // namespace callready::checks::ntp
