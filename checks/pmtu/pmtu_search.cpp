#include "checks/pmtu/pmtu_search.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <random>

#include "checks/common/echo_client.hpp"
#include "checks/common/echo_probe.hpp"
#include "probe/clock.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::pmtu {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using std::chrono::milliseconds;

enum class Outcome { arrived, too_big, lost, local_too_big, rejected };

struct ProbeResult {
  Outcome outcome = Outcome::lost;
  int mtu = 0;
  bool by_port_unreachable = false;  // arrival shown by ICMP port unreachable from the target
  double rtt_ms = 0;
  std::string rejected_by;  // Outcome::rejected: the ICMP error, described
};

// IP_MTU of a connected socket: the route's MTU (interface, or a cached PMTU).
std::optional<int> route_mtu(const udp::endpoint& target) {
  asio::io_context io;
  udp::socket s(io);
  boost::system::error_code ec;
  s.open(target.protocol(), ec);
  if (!ec) s.connect(target, ec);
  if (ec) return std::nullopt;
  int mtu = 0;
  socklen_t len = sizeof mtu;
  bool v6 = target.address().is_v6();
  if (::getsockopt(s.native_handle(), v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &len) != 0)
    return std::nullopt;
  return mtu;
}

class Searcher {
 public:
  Searcher(SearchOptions o, SearchResult& r) : opt_(std::move(o)), res_(r), session_(std::random_device{}()) {
    session_ = (session_ << 32) ^ std::random_device{}();
  }

  asio::awaitable<void> run();

 private:
  asio::awaitable<ProbeResult> probe(int size, milliseconds timeout, int tries);
  asio::awaitable<ProbeResult> probe_once(int size, milliseconds timeout);
  void record(int size, const ProbeResult& p) {
    static const char* names[] = {"arrived", "too_big", "lost", "local_too_big", "rejected"};
    res_.tested.push_back({size, names[static_cast<int>(p.outcome)], p.mtu});
  }
  // Out of time, or this machine cannot send: stop searching.
  bool out_of_time() const { return Clock::now() >= end_ || res_.error.has_value(); }

  SearchOptions opt_;
  SearchResult& res_;
  std::uint64_t session_;
  std::uint32_t sequence_ = 0;
  std::unique_ptr<EchoSocket> sock_;
  Clock::time_point end_;
};

asio::awaitable<ProbeResult> Searcher::probe_once(int size, milliseconds timeout) {
  ProbeResult r;
  echo::Request req;
  req.session = session_;
  req.sequence = ++sequence_;
  req.sent_us = echo::now_us();
  req.minimal_reply = true;  // the answer is small whatever the probe's size
  req.size = static_cast<std::size_t>(size - header_bytes(opt_.target));
  auto sent_at = Clock::now();
  auto ec = sock_->send(opt_.target, req);
  ++res_.probes_sent;
  auto deadline = std::min(sent_at + timeout, end_);
  if (ec.value() == EMSGSIZE) {  // bigger than our own interface allows: the kernel queued the MTU
    r.outcome = Outcome::local_too_big;
    deadline = std::min(deadline, sent_at + milliseconds(20));
  } else if (ec && net::classify(ec) == net::NetFailure::local) {  // a local firewall, no buffers
    res_.error = net::local_error(Operation::send,
                                  "UDP to " + net::format_host_port(opt_.target.address(), opt_.target.port()), ec);
    co_return r;
  } else if (ec) {
    co_return r;  // counts as lost
  }
  while (auto ev = co_await sock_->receive(deadline)) {
    if (ev->kind == EchoEvent::Kind::reply) {
      if (ev->reply.session != session_ || ev->reply.sequence != req.sequence) continue;  // a late answer
      r.outcome = Outcome::arrived;
      r.rtt_ms = std::chrono::duration<double, std::milli>(ev->at - sent_at).count();
      co_return r;
    }
    const auto& icmp = ev->icmp;
    if (icmp.destination != opt_.target) continue;
    if (icmp.too_big()) {
      bool local = r.outcome == Outcome::local_too_big || icmp.origin == SO_EE_ORIGIN_LOCAL;
      r.outcome = local ? Outcome::local_too_big : Outcome::too_big;
      r.mtu = static_cast<int>(icmp.info);
      co_return r;
    }
    if (icmp.port_unreachable() && icmp.offender && *icmp.offender == opt_.target.address()) {
      r.outcome = Outcome::arrived;
      r.by_port_unreachable = true;
      r.rtt_ms = std::chrono::duration<double, std::milli>(ev->at - sent_at).count();
      co_return r;
    }
    if (icmp.destination_unreachable()) {  // a REJECT on the path: no point waiting for the timeout
      r.outcome = Outcome::rejected;
      r.rejected_by = icmp.describe();
      co_return r;
    }
  }
  co_return r;
}

asio::awaitable<ProbeResult> Searcher::probe(int size, milliseconds timeout, int tries) {
  ProbeResult r;
  for (int i = 0; i < tries && !out_of_time(); ++i) {
    r = co_await probe_once(size, timeout);
    if (r.outcome != Outcome::lost) break;  // a rejection is an answer too: no retry
  }
  record(size, r);
  co_return r;
}

asio::awaitable<void> Searcher::run() {
  auto ex = co_await asio::this_coro::executor;
  end_ = Clock::now() + opt_.budget;
  res_.route_mtu = route_mtu(opt_.target);
  sock_ = std::make_unique<EchoSocket>(ex);
  EchoSocketOptions so;
  so.token = opt_.token;
  so.dont_fragment = true;
  res_.error = sock_->open(opt_.target.protocol(), so);
  if (res_.error) co_return;

  const int floor = header_bytes(opt_.target) + static_cast<int>(echo::kMinDatagram);
  int hi = std::max(opt_.max_mtu, floor);
  // 1. Is anyone there? A small probe (576 / 1280: every path carries these).
  int baseline = std::min(hi, opt_.target.address().is_v6() ? 1280 : 576);
  auto first = co_await probe(baseline, opt_.timeout.value_or(milliseconds(1000)), 3);
  if (first.outcome == Outcome::too_big && first.mtu >= floor && first.mtu < baseline) {
    res_.icmp_seen = true;
    res_.icmp_mtu = first.mtu;
    baseline = first.mtu;
    first = co_await probe(baseline, opt_.timeout.value_or(milliseconds(1000)), 3);
  }
  if (res_.error) co_return;
  if (first.outcome == Outcome::rejected) {  // nothing gets through to measure
    res_.method = "none";
    res_.rejected_by = first.rejected_by;
    co_return;
  }
  if (first.outcome != Outcome::arrived) {
    // Reduced mode: nothing confirms arrivals; an ICMP hint is all there is to learn.
    res_.method = "icmp_hint_only";
    auto hint = co_await probe(hi, opt_.timeout.value_or(milliseconds(1000)), 2);
    if (hint.outcome == Outcome::too_big) {
      res_.icmp_seen = true;
      res_.icmp_mtu = hint.mtu;
    } else if (hint.outcome == Outcome::local_too_big && hint.mtu > 0) {
      res_.local_mtu = hint.mtu;
    }
    co_return;
  }
  res_.method = first.by_port_unreachable ? "icmp_port_unreachable" : "responder";
  res_.rtt_ms = first.rtt_ms;
  auto timeout = opt_.timeout.value_or(
      std::clamp(milliseconds(static_cast<long>(4 * first.rtt_ms + 50)), milliseconds(80), milliseconds(1000)));

  // 2. The ICMP hint first, then bisection. Invariant: `good` arrived, `bad` did not.
  int good = baseline, bad = hi + 1;
  bool bad_by_icmp = false;  // whether `bad` was set by an error (ICMP/local), not by silence
  std::optional<int> next = hi;
  while (good + 1 < bad && !out_of_time()) {
    int size = next.value_or(good + (bad - good) / 2);
    next.reset();
    auto r = co_await probe(size, timeout, opt_.tries);
    switch (r.outcome) {
      case Outcome::arrived:
        good = std::max(good, size);
        break;
      case Outcome::lost:
      case Outcome::rejected:
        bad = size;
        bad_by_icmp = false;
        break;
      case Outcome::too_big:
      case Outcome::local_too_big:
        if (r.outcome == Outcome::too_big) {
          res_.icmp_seen = true;
          res_.icmp_mtu = std::min(res_.icmp_mtu.value_or(r.mtu), r.mtu);
        } else if (r.mtu > 0) {
          res_.local_mtu = r.mtu;
        }
        bad = size;
        bad_by_icmp = true;
        // The error names the MTU: try exactly that next (it is confirmed, or a later hop is smaller).
        if (r.mtu > good && r.mtu < size) {
          bad = r.mtu + 1;
          next = r.mtu;
        }
        break;
    }
  }
  res_.path_mtu = good;
  res_.upper_bound_reached = good == hi;
  res_.black_hole = good < hi && !bad_by_icmp;
}

}  // namespace

int header_bytes(bool v6) { return v6 ? 48 : 28; }

asio::awaitable<SearchResult> search_path_mtu(SearchOptions options) {
  SearchResult result;
  Searcher s(std::move(options), result);
  co_await s.run();
  co_return result;
}

}  // namespace callready::checks::pmtu
