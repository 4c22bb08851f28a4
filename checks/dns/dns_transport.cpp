#include "checks/dns/dns_transport.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <random>

#include "probe/net/async.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace callready::checks::dns {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeader = 12;

std::uint16_t id_of(const std::vector<unsigned char>& m) {
  return m.size() >= 2 ? static_cast<std::uint16_t>(m[0] << 8 | m[1]) : 0;
}

// A reply to `question`: long enough, the QR bit set, the same id.
bool is_reply_to(const unsigned char* m, std::size_t n, const std::vector<unsigned char>& question) {
  return n >= kHeader && (m[2] & 0x80) && static_cast<std::uint16_t>(m[0] << 8 | m[1]) == id_of(question);
}

void take_reply(TransportAnswer& a, const unsigned char* m, std::size_t n) {
  a.answered = true;
  a.failed = Operation::none;
  a.truncated = (m[2] & 0x02) != 0;
  a.rcode = m[3] & 0x0f;
  a.message.assign(m, m + n);
}

void fail(TransportAnswer& a, const boost::system::error_code& ec) {
  a.failure = net::classify(ec);
  a.error = std::string(to_string(a.failed)) + ": " + ec.message();
}

void time_out(TransportAnswer& a, Millis limit) {
  a.failure = net::NetFailure::timeout;
  a.error = std::string(to_string(a.failed)) + ": timed out after " + std::to_string(limit.count()) + " ms";
}

}  // namespace

std::vector<unsigned char> make_question(const std::string& name, int type) {
  unsigned char* buf = nullptr;
  int len = 0;
  auto id = static_cast<unsigned short>(std::random_device{}());
  if (ares_create_query(name.c_str(), ns_c_in, type, id, 1, &buf, &len, 0) != ARES_SUCCESS) return {};
  std::vector<unsigned char> q(buf, buf + len);
  ares_free_string(buf);
  return q;
}

asio::awaitable<TransportAnswer> ask_over_udp(net::DnsServer server, std::vector<unsigned char> question,
                                              Millis limit) {
  TransportAnswer a;
  a.transport = "udp";
  udp::socket sock(co_await asio::this_coro::executor);
  udp::endpoint to(server.address, server.port);
  boost::system::error_code ec;
  // Connected: an ICMP port unreachable comes back as ECONNREFUSED at once.
  a.failed = Operation::send;
  sock.open(to.protocol(), ec);
  if (!ec) sock.connect(to, ec);
  if (!ec) sock.send(asio::buffer(question), 0, ec);
  if (ec) {
    fail(a, ec);
    co_return a;
  }
  a.failed = Operation::receive;
  auto exchange = [&]() -> asio::awaitable<bool> {
    std::array<unsigned char, 65535> buf;
    for (int i = 0; i < 16; ++i) {  // bounded: replies to other ids are skipped
      auto [rec, n] = co_await sock.async_receive(asio::buffer(buf), kUseTuple);
      if (rec) {
        fail(a, rec);
        co_return true;
      }
      if (is_reply_to(buf.data(), n, question)) {
        take_reply(a, buf.data(), n);
        co_return true;
      }
      ++a.garbled;
    }
    co_return true;
  };
  if (!co_await net::with_timeout(exchange(), limit)) time_out(a, limit);
  co_return a;
}

asio::awaitable<TransportAnswer> ask_over_tcp(net::DnsServer server, std::vector<unsigned char> question,
                                              Millis limit) {
  TransportAnswer a;
  a.transport = "tcp";
  tcp::socket sock(co_await asio::this_coro::executor);
  tcp::endpoint to(server.address, server.port);
  auto exchange = [&]() -> asio::awaitable<bool> {
    a.failed = Operation::connect;
    auto [cec] = co_await sock.async_connect(to, kUseTuple);
    if (cec) {
      fail(a, cec);
      co_return true;
    }
    std::array<unsigned char, 2> prefix = {static_cast<unsigned char>(question.size() >> 8),
                                           static_cast<unsigned char>(question.size())};
    std::array<asio::const_buffer, 2> framed = {asio::buffer(prefix), asio::buffer(question)};
    a.failed = Operation::send;
    auto [wec, wn] = co_await asio::async_write(sock, framed, kUseTuple);
    if (wec) {
      fail(a, wec);
      co_return true;
    }
    std::array<unsigned char, 2> length;
    a.failed = Operation::receive;
    auto [lec, ln] = co_await asio::async_read(sock, asio::buffer(length), kUseTuple);
    if (lec) {
      fail(a, lec);
      co_return true;
    }
    std::vector<unsigned char> reply(static_cast<std::size_t>(length[0] << 8 | length[1]));
    auto [rec, rn] = co_await asio::async_read(sock, asio::buffer(reply), kUseTuple);
    if (rec) {
      fail(a, rec);
      co_return true;
    }
    if (is_reply_to(reply.data(), reply.size(), question)) {
      take_reply(a, reply.data(), reply.size());
    } else {
      a.failure = net::NetFailure::other;
      a.error = "the reply over TCP did not answer our question";
    }
    co_return true;
  };
  if (!co_await net::with_timeout(exchange(), limit)) time_out(a, limit);
  co_return a;
}

std::optional<net::DnsServer> first_server(const std::string& described) {
  return net::parse_dns_server(described.substr(0, described.find(',')));
}

net::DnsFailure failure_of_rcode(int rcode) {
  switch (rcode) {
    case 0:
      return net::DnsFailure::none;
    case 2:
      return net::DnsFailure::servfail;
    case 3:
      return net::DnsFailure::nxdomain;
    case 5:
      return net::DnsFailure::refused;
    default:
      return net::DnsFailure::other;
  }
}

}  // namespace callready::checks::dns
