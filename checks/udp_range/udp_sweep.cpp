#include "checks/udp_range/udp_sweep.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <memory>
#include <unordered_map>

#include "checks/common/echo_client.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::udp;
using State = PortResult::State;

namespace {

struct Shared {
  SweepOptions opts;
  std::uint64_t session = 0;
  std::vector<PortResult> ports;
  std::unordered_map<std::uint16_t, std::size_t> index;  // port -> position
  std::vector<Clock::time_point> first_sent;
  std::vector<int> answered_round;  // round whose probe was answered first (-1 none)
  std::size_t unresolved = 0;
  std::optional<udp::endpoint> observed;
  int round = 0;
  int receivers_running = 0;
};

void handle(Shared& s, const EchoEvent& ev) {
  if (ev.kind == EchoEvent::Kind::junk) {
    // Bytes from the probed port that are no echo reply: the port is reached,
    // something else answers there. Never "blocked"; an echo later still wins.
    if (ev.from.address() != s.opts.target) return;
    auto it = s.index.find(ev.from.port());
    if (it == s.index.end()) return;
    auto& r = s.ports[it->second];
    if (r.state != State::untested && r.state != State::rejected) return;
    if (r.state == State::untested) --s.unresolved;
    r.state = State::foreign;
    r.rtt_ms = std::chrono::duration<double, std::milli>(ev.at - s.first_sent[it->second]).count();
    return;
  }
  if (ev.kind == EchoEvent::Kind::reply) {
    if (ev.from.address() != s.opts.target || ev.reply.session != s.session) return;
    auto port = static_cast<std::uint16_t>(ev.reply.sequence & 0xffff);
    if (ev.from.port() != port) return;
    auto it = s.index.find(port);
    if (it == s.index.end()) return;
    auto& r = s.ports[it->second];
    if (r.state == State::open) return;
    if (r.state == State::untested) --s.unresolved;
    r.state = State::open;
    r.rtt_ms = std::chrono::duration<double, std::milli>(ev.at - s.first_sent[it->second]).count();
    s.answered_round[it->second] = static_cast<int>(ev.reply.sequence >> 16);
    if (!s.observed) s.observed = ev.reply.seen.source;
    return;
  }
  const auto& icmp = ev.icmp;
  if (icmp.destination.address() != s.opts.target || !icmp.destination_unreachable()) return;
  auto it = s.index.find(icmp.destination.port());
  if (it == s.index.end()) return;
  auto& r = s.ports[it->second];
  if (r.state != State::untested) return;  // open wins over a stray ICMP
  r.state = State::rejected;
  r.icmp = icmp.describe();
  r.rejected_by_target = icmp.offender && *icmp.offender == s.opts.target;
  --s.unresolved;
}

asio::awaitable<void> receive_loop(std::shared_ptr<Shared> s, std::shared_ptr<EchoSocket> socket) {
  ++s->receivers_running;
  while (socket->is_open()) {
    auto ev = co_await socket->receive(Clock::now() + std::chrono::seconds(1));
    if (ev) handle(*s, *ev);
  }
  --s->receivers_running;
}

asio::awaitable<void> sleep_until(asio::any_io_executor ex, Clock::time_point when) {
  Timer t(ex, when);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

asio::awaitable<SweepResult> udp_sweep(asio::any_io_executor ex, SweepOptions opts) {
  SweepResult out;
  auto s = std::make_shared<Shared>();
  s->opts = opts;
  RAND_bytes(reinterpret_cast<unsigned char*>(&s->session), sizeof s->session);
  s->ports.resize(opts.ports.size());
  s->first_sent.resize(opts.ports.size());
  s->answered_round.assign(opts.ports.size(), -1);
  for (std::size_t i = 0; i < opts.ports.size(); ++i) s->index[opts.ports[i]] = i;
  s->unresolved = opts.ports.size();

  // Sockets: one per source port (no more than there are ports to probe), or one ephemeral.
  std::vector<std::shared_ptr<EchoSocket>> sockets;
  auto protocol = opts.target.is_v6() ? udp::v6() : udp::v4();
  std::vector<std::optional<std::uint16_t>> sources;
  if (opts.source_ports.empty()) sources.push_back(std::nullopt);
  for (auto sp : opts.source_ports) {
    if (sources.size() >= opts.ports.size()) break;
    sources.push_back(sp);
  }
  std::optional<CheckError> last_error;
  for (const auto& sp : sources) {
    auto socket = std::make_shared<EchoSocket>(ex);
    EchoSocketOptions so;
    so.token = opts.token;
    so.report_junk = true;
    if (sp) so.local = udp::endpoint(protocol, *sp);
    if (auto err = socket->open(protocol, so)) {
      last_error = std::move(err);
      if (sp) out.source_ports_unavailable.push_back(*sp);
      continue;
    }
    if (sp) out.source_ports_used.push_back(*sp);
    sockets.push_back(socket);
  }
  if (sockets.empty()) {
    out.error = last_error;
    co_return out;
  }
  for (auto& socket : sockets) asio::co_spawn(ex, receive_loop(s, socket), asio::detached);

  const double pps = std::max(1, opts.max_pps);
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  std::size_t next_socket = 0;
  auto slot = [&](std::uint64_t n) {
    return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / pps));
  };
  for (int round = 0; round < opts.max_attempts && s->unresolved > 0; ++round) {
    // Past the minimum rounds, go on only while the path shows random loss
    // that could still hide an open port among the silent ones.
    if (round >= opts.attempts) {
      std::size_t opened = 0, late = 0;
      for (std::size_t i = 0; i < s->ports.size(); ++i)
        if (s->ports[i].state == State::open) {
          ++opened;
          if (s->answered_round[i] > 0) ++late;
        }
      double loss = opened ? static_cast<double>(late) / opened : 0.0;
      if (opened * std::pow(loss, round) <= 0.01) break;
    }
    s->round = round;
    for (std::size_t i = 0; i < s->ports.size(); ++i) {
      if (s->ports[i].state != State::untested) continue;
      // A probe due at or after the deadline could not be answered in time.
      auto when = std::max(slot(sent), Clock::now());
      if (when >= opts.deadline) {
        out.cut_short = true;
        break;
      }
      out.rounds = round + 1;
      if (when > Clock::now() + std::chrono::microseconds(500)) co_await sleep_until(ex, when);
      echo::Request req;
      req.session = s->session;
      req.sequence = (static_cast<std::uint32_t>(round) << 16) | s->opts.ports[i];
      req.sent_us = echo::now_us();
      auto& socket = sockets[next_socket++ % sockets.size()];
      udp::endpoint to(opts.target, opts.ports[i]);
      auto ec = socket->send(to, req);
      for (int retry = 0; ec == asio::error::would_block && retry < 20; ++retry) {  // buffer full: a moment
        co_await sleep_until(ex, Clock::now() + std::chrono::milliseconds(1));
        ec = socket->send(to, req);
      }
      // This machine refused to send (a local firewall, no buffers): nothing
      // about the path can be learned. Errors about the network (a refusal
      // queued by an earlier probe) leave the port to its ICMP or its silence.
      if (ec && net::classify(ec) == net::NetFailure::local) {
        out.error = net::local_error(Operation::send, "UDP to " + net::format_host_port(to.address(), to.port()), ec);
        break;
      }
      ++sent;
      if (s->ports[i].attempts == 0) s->first_sent[i] = Clock::now();
      ++s->ports[i].attempts;
    }
    if (out.cut_short || out.error) break;
    auto wait =
        std::min<std::chrono::milliseconds>(opts.reply_wait * (1 << std::min(round, 2)), std::chrono::seconds(4));
    auto until = std::min(Clock::now() + wait, opts.deadline);
    while (s->unresolved > 0 && Clock::now() < until)
      co_await sleep_until(ex, std::min(until, Clock::now() + std::chrono::milliseconds(5)));
  }

  for (auto& socket : sockets) socket->close();
  // Let the receivers see the close before `s` may be the last owner.
  for (int i = 0; i < 100 && s->receivers_running > 0; ++i)
    co_await sleep_until(ex, Clock::now() + std::chrono::milliseconds(1));

  std::size_t opened = 0, late = 0;
  for (std::size_t i = 0; i < s->ports.size(); ++i) {
    auto& r = s->ports[i];
    if (r.state == State::untested && r.attempts > 0) r.state = State::blocked;
    if (r.state == State::open) {
      ++opened;
      if (s->answered_round[i] > 0) ++late;
    }
  }
  out.loss_estimate = opened ? static_cast<double>(late) / opened : 0.0;
  out.ports = s->ports;
  out.probes_sent = sent;
  out.observed_source = s->observed;
  co_return out;
}

}  // namespace callready::checks
