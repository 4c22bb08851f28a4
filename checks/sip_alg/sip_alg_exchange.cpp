#include "probe/clock.hpp"
#include "checks/sip_alg/sip_alg_exchange.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "probe/net/async.hpp"
#include "checks/sip_alg/sip_codec.hpp"

namespace callready::checks::sip_alg {
namespace {

namespace asio = boost::asio;
namespace sip = wire::sip;
using asio::ip::tcp;
using asio::ip::udp;
using SteadyClock = callready::Clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string ep_text(const asio::ip::address& a, unsigned short port) {
  return fmt::format("{}:{}", host_text(a), port);
}

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// A final response to our request: same CSeq (number and method).
bool answers(const sip::Message& m, const RequestSpec& s) {
  const std::string* cseq = m.header("CSeq");
  return !m.is_request && m.status >= 200 && cseq && *cseq == fmt::format("{} {}", s.cseq, s.method);
}

// Reads the mirror and the Via of a final response into the attempt.
void evaluate(Attempt& a, const std::string& request, const sip::Message& response) {
  a.status = response.status;
  if (const std::string* via = response.header("Via")) {
    a.response_received = sip::header_param(*via, "received").value_or("");
    a.response_rport = sip::header_param(*via, "rport").value_or("");
  }
  const std::string* type = response.header("Content-Type");
  auto mirror = type && *type == sip::kMirrorContentType ? sip::decode_mirror(response.body) : std::nullopt;
  if (!mirror) {
    a.outcome = "no_mirror";
    return;
  }
  a.outcome = "mirrored";
  auto seen = asio::ip::make_address(mirror->source_ip);
  a.observed_source = ep_text(seen, mirror->source_port);
  a.diff = diff_requests(request, mirror->request);
  a.response_via_rewritten = a.response_received != mirror->source_ip ||
                             (!a.response_rport.empty() && a.response_rport != std::to_string(mirror->source_port));
}

Attempt base_attempt(const ChannelSpec& c, const std::string& method) {
  Attempt a;
  a.transport = c.tcp ? "tcp" : "udp";
  a.requested_port = c.source_port;
  a.method = method;
  return a;
}

std::vector<Attempt> all_failed(const ChannelSpec& c, const std::string& outcome, const std::string& error) {
  std::vector<Attempt> out;
  for (const auto& m : c.methods) {
    out.push_back(base_attempt(c, m));
    out.back().outcome = outcome;
    out.back().error = error;
  }
  return out;
}

asio::awaitable<std::vector<Attempt>> run_udp(ChannelSpec c) {
  auto ex = co_await asio::this_coro::executor;
  udp::socket sock(ex);
  udp::endpoint remote(c.remote, c.remote_port);
  boost::system::error_code ec;
  sock.open(remote.protocol(), ec);
  if (!ec) sock.bind(udp::endpoint(remote.protocol(), c.source_port), ec);
  if (ec)
    co_return all_failed(c, ec == asio::error::address_in_use ? "source_port_busy" : "send_failed",
                         "bind: " + ec.message());
  sock.connect(remote, ec);
  if (ec) co_return all_failed(c, "send_failed", "connect: " + ec.message());
  auto local = sock.local_endpoint();
  std::vector<Attempt> out;
  std::vector<char> buf(65536);
  for (const auto& method : c.methods) {
    Attempt a = base_attempt(c, method);
    a.local = ep_text(local.address(), local.port());
    auto spec = new_spec(method, "UDP", local.address(), local.port(), c.remote, c.remote_port);
    auto request = build_request(spec);
    auto t0 = SteadyClock::now();
    auto deadline = t0 + c.timeout;
    auto next_send = t0;
    auto interval = std::chrono::milliseconds(250);  // RFC 3261 Timer A, shortened for a probe
    a.outcome = "no_response";
    while (SteadyClock::now() < deadline) {
      if (SteadyClock::now() >= next_send) {
        sock.send(asio::buffer(request), 0, ec);
        if (ec == asio::error::connection_refused) {  // the ICMP error of the previous send
          a.outcome = "refused";
          a.error = "ICMP port unreachable";
          break;
        }
        next_send = SteadyClock::now() + interval;
        interval *= 2;
      }
      auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, next_send) - SteadyClock::now());
      auto got = co_await net::with_timeout(sock.async_receive(asio::buffer(buf), kTuple),
                                            std::max(wait, std::chrono::milliseconds(1)));
      if (!got) continue;
      auto [rec, n] = *got;
      if (rec == asio::error::connection_refused) {
        a.outcome = "refused";
        a.error = "ICMP port unreachable";
        break;
      }
      if (rec) continue;
      auto parsed = sip::parse(std::string_view(buf.data(), n), true);
      if (parsed.status != sip::ParseStatus::ok || !answers(parsed.message, spec)) continue;
      a.rtt_ms = ms_since(t0);
      evaluate(a, request, parsed.message);
      if (method == "INVITE") {
        auto ack = build_ack(spec, parsed.message.header("To") ? *parsed.message.header("To") : "");
        sock.send(asio::buffer(ack), 0, ec);
      }
      break;
    }
    out.push_back(std::move(a));
  }
  co_return out;
}

// Reads until one complete response that answers `spec` is in `pending`.
asio::awaitable<std::optional<sip::Message>> read_response(tcp::socket& sock, std::string& pending,
                                                           const RequestSpec& spec) {
  std::array<char, 4096> chunk;
  for (;;) {
    auto parsed = sip::parse(pending, false);
    if (parsed.status == sip::ParseStatus::invalid) co_return std::nullopt;
    if (parsed.status == sip::ParseStatus::ok) {
      pending.erase(0, parsed.consumed);
      if (answers(parsed.message, spec)) co_return std::move(parsed.message);
      continue;
    }
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), kTuple);
    if (ec) co_return std::nullopt;
    pending.append(chunk.data(), n);
  }
}

asio::awaitable<std::vector<Attempt>> run_tcp(ChannelSpec c) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  tcp::endpoint remote(c.remote, c.remote_port);
  boost::system::error_code ec;
  sock.open(remote.protocol(), ec);
  // A fixed source port must be reusable right after the last run's connection.
  if (!ec && c.source_port) sock.set_option(tcp::socket::reuse_address(true), ec);
  if (!ec && c.source_port) sock.bind(tcp::endpoint(remote.protocol(), c.source_port), ec);
  if (ec)
    co_return all_failed(c, ec == asio::error::address_in_use ? "source_port_busy" : "connect_failed",
                         "bind: " + ec.message());
  auto connected = co_await net::with_timeout(sock.async_connect(remote, kTuple), c.timeout);
  if (!connected || std::get<0>(*connected)) {
    auto err = connected ? std::get<0>(*connected) : asio::error::timed_out;
    co_return all_failed(c, err == asio::error::connection_refused ? "refused" : "connect_failed",
                         "connect: " + (connected ? err.message() : std::string("timed out")));
  }
  auto local = sock.local_endpoint();
  std::vector<Attempt> out;
  std::string pending;
  bool broken = false;
  for (const auto& method : c.methods) {
    Attempt a = base_attempt(c, method);
    a.local = ep_text(local.address(), local.port());
    a.outcome = "no_response";
    if (broken) {
      a.error = "connection closed after an earlier request";
      out.push_back(std::move(a));
      continue;
    }
    auto spec = new_spec(method, "TCP", local.address(), local.port(), c.remote, c.remote_port);
    auto request = build_request(spec);
    auto t0 = SteadyClock::now();
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), kTuple);
    if (wec) {
      a.outcome = "send_failed";
      a.error = "write: " + wec.message();
      broken = true;
      out.push_back(std::move(a));
      continue;
    }
    auto response = co_await net::with_timeout(read_response(sock, pending, spec), c.timeout);
    if (response && *response) {
      a.rtt_ms = ms_since(t0);
      evaluate(a, request, **response);
      if (method == "INVITE") {
        auto ack = build_ack(spec, (*response)->header("To") ? *(*response)->header("To") : "");
        co_await asio::async_write(sock, asio::buffer(ack), kTuple);
      }
    } else {
      broken = true;  // a timed-out or closed stream cannot be resynchronised
    }
    out.push_back(std::move(a));
  }
  // Abortive close: no TIME_WAIT left to block the next run from source port 5060.
  sock.set_option(asio::socket_base::linger(true, 0), ec);
  sock.close(ec);
  co_return out;
}

}  // namespace

asio::awaitable<std::vector<Attempt>> run_channel(ChannelSpec spec) {
  if (spec.tcp) co_return co_await run_tcp(std::move(spec));
  co_return co_await run_udp(std::move(spec));
}

}  // namespace callready::checks::sip_alg
