#include "checks/sip_alg/sip_alg_exchange.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "checks/common/silence.hpp"
#include "checks/sip_alg/sip_codec.hpp"
#include "probe/clock.hpp"
#include "probe/net/async.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::sip_alg {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// A final response to our request: same CSeq (number and method).
bool answers(const sip::Message& m, const RequestSpec& s) {
  const std::string* cseq = m.header("CSeq");
  return !m.is_request && m.status >= 200 && cseq && *cseq == fmt::format("{} {}", s.cseq, s.method);
}

// Records a failed step, sorted by net::classify; a refusal (ICMP port
// unreachable, a TCP reset on connect) is an outcome of its own.
void record_failure(Exchange& e, Operation op, const std::string& what, const error_code& ec) {
  auto kind = net::classify(ec);
  e.outcome = kind == net::NetFailure::refused ? Outcome::refused : Outcome::failed;
  e.failure = StepFailure{op, kind, fmt::format("{} {}: {}", to_string(op), what, ec.message())};
}

// Reads the mirror and the Via of a final response into the exchange.
void record_response(Exchange& e, const std::string& request, const sip::Message& response) {
  e.status = response.status;
  if (const std::string* via = response.header("Via")) {
    e.response_received = sip::header_param(*via, "received");
    e.response_rport = sip::header_param(*via, "rport");
  }
  const std::string* type = response.header("Content-Type");
  auto mirror = type && *type == sip::kMirrorContentType ? sip::decode_mirror(response.body) : std::nullopt;
  if (!mirror) {
    e.outcome = Outcome::no_mirror;
    return;
  }
  e.outcome = Outcome::mirrored;
  e.observed_address = mirror->source_ip;
  e.observed_port = mirror->source_port;
  e.diff = diff_requests(request, mirror->request);
}

Exchange base_exchange(const ChannelSpec& c, const std::string& method) {
  Exchange e;
  e.transport = c.tcp ? "tcp" : "udp";
  e.requested_port = c.source_port;
  e.method = method;
  return e;
}

// The socket could not be set up: every method of the channel ends the same way.
std::vector<Exchange> all_failed(const ChannelSpec& c, Operation op, const std::string& what, const error_code& ec) {
  std::vector<Exchange> out;
  for (const auto& m : c.methods) {
    out.push_back(base_exchange(c, m));
    record_failure(out.back(), op, what, ec);
    if (op == Operation::bind && ec == asio::error::address_in_use && c.source_port)
      out.back().outcome = Outcome::source_port_busy;
  }
  return out;
}

// A failure that ends a UDP exchange; anything else (e.g. a stray error of
// an earlier datagram) is ignored and the schedule goes on.
bool ends_exchange(net::NetFailure f) {
  return f == net::NetFailure::refused || f == net::NetFailure::unreachable || f == net::NetFailure::local ||
         f == net::NetFailure::reset;
}

// The UDP schedule in force: copies at 0, i, 3i, 7i... (RFC 3261 Timer A,
// doubling), silence given up at rule.wait. No RTT known: i = 250 ms
// (Timer A shortened for a probe) within the per-request timeout. An RTT
// known: max(4 x RTT, 250 ms) and i a quarter of it (copies at 0, 1/4, 3/4).
struct UdpSchedule {
  Clock::duration first_interval;
  net::SilenceWait rule;
};
UdpSchedule udp_schedule(const net::SilenceWait& rule) {
  if (rule.basis == net::WaitBasis::timeout) return {std::chrono::milliseconds(250), rule};
  return {std::max<Clock::duration>(std::chrono::milliseconds(1), rule.wait / 4), rule};
}

// The k-th copy's time (k from 0), from the first: intervals doubling.
Clock::duration send_offset(Clock::duration first_interval, int k) {
  Clock::duration t{};
  auto interval = first_interval;
  for (int i = 0; i < k; ++i, interval *= 2) t += interval;
  return t;
}

asio::awaitable<std::vector<Exchange>> run_udp(ChannelSpec c) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  auto& paths = net::path_rtt(ex);
  Timer window(ex);
  udp::socket sock(ex);
  udp::endpoint remote(c.remote, c.remote_port);
  const std::string remote_text = net::format_host_port(c.remote, c.remote_port);
  error_code ec;
  sock.open(remote.protocol(), ec);
  if (ec) co_return all_failed(c, Operation::bind, "UDP socket", ec);
  sock.bind(udp::endpoint(remote.protocol(), c.source_port), ec);
  if (ec) co_return all_failed(c, Operation::bind, "UDP port " + std::to_string(c.source_port), ec);
  sock.connect(remote, ec);
  if (ec) co_return all_failed(c, Operation::connect, remote_text, ec);
  auto local = sock.local_endpoint();
  std::vector<Exchange> out;
  std::vector<char> buf(65536);
  for (const auto& method : c.methods) {
    Exchange e = base_exchange(c, method);
    e.local = net::format_host_port(local.address(), local.port());
    auto spec = new_spec(method, "UDP", local.address(), local.port(), c.remote, c.remote_port);
    spec.token = c.token;
    spec.unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto request = build_request(spec);
    const auto t0 = Clock::now();
    int sent = 0;
    e.outcome = Outcome::no_response;
    for (;;) {
      // Worked out afresh each time round: an RTT recorded meanwhile changes it.
      auto s = udp_schedule(paths.silence_wait(c.remote, c.timeout));
      const auto end = t0 + s.rule.wait;
      if (Clock::now() >= end) {
        e.silence = s.rule;
        break;
      }
      const auto next = t0 + send_offset(s.first_interval, sent);
      if (next <= Clock::now()) {
        sock.send(asio::buffer(request), 0, ec);  // may report the ICMP error of the previous send
        if (ec && ends_exchange(net::classify(ec))) {
          record_failure(e, Operation::send, remote_text, ec);
          break;
        }
        ++sent;
        continue;
      }
      window.expires_at(std::min(next, end));
      // With no RTT known yet, one recorded meanwhile (another check) re-plans
      // the wait at a quarter of its rule (the first retransmission).
      bool watch = s.rule.basis == net::WaitBasis::timeout;
      auto learning = rtt_learned(paths, c.remote, t0, c.timeout, 0.25, watch);
      auto r =
          co_await (sock.async_receive(asio::buffer(buf), kTuple) || window.async_wait(kTuple) || std::move(learning));
      if (r.index() == 2) continue;
      if (r.index() == 1) {
        if (auto [tec] = std::get<1>(r); tec) {  // the engine cancelled the check
          record_failure(e, Operation::receive, remote_text, tec);
          break;
        }
        continue;
      }
      auto [rec, n] = std::get<0>(r);
      if (rec) {
        if (!ends_exchange(net::classify(rec))) continue;
        record_failure(e, Operation::receive, remote_text, rec);
        break;
      }
      auto parsed = sip::parse(std::string_view(buf.data(), n), true);
      if (parsed.status != sip::ParseStatus::ok || !answers(parsed.message, spec)) continue;
      auto rtt = Clock::now() - t0;
      e.rtt_ms = std::chrono::duration<double, std::milli>(rtt).count();
      // Karn: after a retransmission the answer may be to any copy.
      if (sent == 1) paths.record(c.remote, rtt);
      record_response(e, request, parsed.message);
      if (method == "INVITE") {
        auto ack = build_ack(spec, parsed.message.header("To") ? *parsed.message.header("To") : "");
        sock.send(asio::buffer(ack), 0, ec);
      }
      break;
    }
    out.push_back(std::move(e));
  }
  co_return out;
}

struct StreamRead {
  std::optional<sip::Message> response;
  error_code ec;        // the stream broke
  std::string invalid;  // the stream held something that is not SIP
};

// Reads until one complete response that answers `spec` is in `pending`.
asio::awaitable<StreamRead> read_response(tcp::socket& sock, std::string& pending, const RequestSpec& spec) {
  std::array<char, 4096> chunk;
  StreamRead r;
  for (;;) {
    auto parsed = sip::parse(pending, false);
    if (parsed.status == sip::ParseStatus::invalid) {
      r.invalid = parsed.error;
      co_return r;
    }
    if (parsed.status == sip::ParseStatus::ok) {
      pending.erase(0, parsed.consumed);
      if (answers(parsed.message, spec)) {
        r.response = std::move(parsed.message);
        co_return r;
      }
      continue;
    }
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), kTuple);
    if (ec) {
      r.ec = ec;
      co_return r;
    }
    pending.append(chunk.data(), n);
  }
}

asio::awaitable<std::vector<Exchange>> run_tcp(ChannelSpec c) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  tcp::endpoint remote(c.remote, c.remote_port);
  const std::string remote_text = net::format_host_port(c.remote, c.remote_port);
  error_code ec;
  sock.open(remote.protocol(), ec);
  if (ec) co_return all_failed(c, Operation::bind, "TCP socket", ec);
  if (c.source_port) {
    // A fixed source port must be reusable right after the last run's connection.
    sock.set_option(tcp::socket::reuse_address(true), ec);
    if (!ec) sock.bind(tcp::endpoint(remote.protocol(), c.source_port), ec);
    if (ec) co_return all_failed(c, Operation::bind, "TCP port " + std::to_string(c.source_port), ec);
  }
  // A connect nobody answers is waited out for max(4 x RTT, 250 ms) once this
  // scan knows an RTT to the address (the responder's control port), else
  // for the per-request timeout.
  auto& paths = net::path_rtt(ex);
  const auto start = Clock::now();
  auto connecting = sock.async_connect(remote, kTuple);
  auto silence = paths.wait_silence(c.remote, start, c.timeout);
  auto connected = co_await (std::move(connecting) || std::move(silence));
  if (connected.index() == 1) {
    auto out = all_failed(c, Operation::connect, remote_text, asio::error::timed_out);
    for (auto& e : out) e.silence = std::get<1>(connected);
    co_return out;
  }
  if (auto [cec] = std::get<0>(connected); cec) co_return all_failed(c, Operation::connect, remote_text, cec);
  paths.record(c.remote, Clock::now() - start);
  auto local = sock.local_endpoint();
  std::vector<Exchange> out;
  std::string pending;
  std::optional<StepFailure> broken;  // why the stream cannot carry the next request
  for (const auto& method : c.methods) {
    Exchange e = base_exchange(c, method);
    e.local = net::format_host_port(local.address(), local.port());
    if (broken) {
      e.outcome = Outcome::failed;
      e.failure = StepFailure{Operation::send, broken->kind, "not sent: " + broken->message};
      out.push_back(std::move(e));
      continue;
    }
    auto spec = new_spec(method, "TCP", local.address(), local.port(), c.remote, c.remote_port);
    spec.token = c.token;
    spec.unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto request = build_request(spec);
    auto t0 = Clock::now();
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), kTuple);
    if (wec) {
      record_failure(e, Operation::send, remote_text, wec);
      broken = e.failure;
      out.push_back(std::move(e));
      continue;
    }
    auto read = co_await net::with_timeout(read_response(sock, pending, spec), c.timeout);
    if (!read) {
      e.outcome = Outcome::no_response;  // a timed-out stream cannot be resynchronised
      broken = StepFailure{Operation::receive, net::NetFailure::timeout,
                           fmt::format("no answer to the {} within {} ms", method, c.timeout.count())};
    } else if (read->response) {
      e.rtt_ms = ms_since(t0);
      record_response(e, request, *read->response);
      if (method == "INVITE") {
        auto ack = build_ack(spec, read->response->header("To") ? *read->response->header("To") : "");
        co_await asio::async_write(sock, asio::buffer(ack), kTuple);
      }
    } else if (read->ec) {
      // The connection ended instead of answering: the request went unanswered.
      record_failure(e, Operation::receive, remote_text, read->ec);
      if (e.outcome == Outcome::failed) e.outcome = Outcome::no_response;
      broken = e.failure;
    } else {
      e.outcome = Outcome::failed;
      e.failure = StepFailure{Operation::parse, net::NetFailure::other, "parse: not a SIP response: " + read->invalid};
      broken = e.failure;
    }
    out.push_back(std::move(e));
  }
  // Abortive close: no TIME_WAIT left to block the next run from source port 5060.
  sock.set_option(asio::socket_base::linger(true, 0), ec);
  sock.close(ec);
  co_return out;
}

}  // namespace

asio::awaitable<std::vector<Exchange>> run_channel(ChannelSpec spec) {
  if (spec.tcp) co_return co_await run_tcp(std::move(spec));
  co_return co_await run_udp(std::move(spec));
}

}  // namespace callready::checks::sip_alg
