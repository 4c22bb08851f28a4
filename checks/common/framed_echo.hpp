#pragma once
// The echo probe (checks/common/echo_probe.hpp) over a byte stream, RFC 4571
// framing: a 2-byte big-endian length, then one echo datagram of
// [kMinDatagram, kMaxDatagram] bytes. The TCP accept service (--tcp-ports),
// the TLS echo service (--tls-ports) and their clients share it; the stream
// may be a plain TCP socket or a TLS stream over one.
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/endian/conversion.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checks/common/echo_probe.hpp"
#include "probe/respond/service.hpp"

namespace callready::checks::framed {

// A frame's length field is acceptable (the echo datagram's size bounds).
bool length_ok(std::size_t length);

// `datagram` behind its 2-byte length (a datagram longer than 65535 bytes is never framed: echo caps it lower).
std::vector<std::uint8_t> frame(std::span<const std::uint8_t> datagram);

// A framed, encoded echo request (sent_us stamped now when zero).
std::vector<std::uint8_t> framed_request(echo::Request request, std::string_view token);

// What a service answers to one request it decoded: the framed reply.
std::vector<std::uint8_t> framed_reply(const echo::Request& request, const echo::Observation& seen,
                                       std::string_view token, const echo::ReplyMarks& marks);

struct FrameRead {
  boost::system::error_code error;  // the read's (eof, reset, ...), or invalid_argument for a bad length
  std::size_t length = 0;           // bytes of the datagram, in the caller's buffer
  bool ok() const { return !error; }
};

// Reads one whole frame into `buffer` (resized to kMaxDatagram at most). A
// length outside the echo bounds is invalid_argument: the caller closes.
template <class Stream>
boost::asio::awaitable<FrameRead> read_frame(Stream& stream, std::vector<std::uint8_t>& buffer) {
  namespace asio = boost::asio;
  FrameRead out;
  std::array<std::uint8_t, 2> length_bytes{};
  auto [hec, hn] = co_await asio::async_read(stream, asio::buffer(length_bytes), asio::as_tuple(asio::use_awaitable));
  if (hec) {
    out.error = hec;
    co_return out;
  }
  out.length = boost::endian::load_big_u16(length_bytes.data());
  if (!length_ok(out.length)) {
    out.error = asio::error::invalid_argument;
    co_return out;
  }
  if (buffer.size() < out.length) buffer.resize(echo::kMaxDatagram);
  auto [bec, bn] =
      co_await asio::async_read(stream, asio::buffer(buffer.data(), out.length), asio::as_tuple(asio::use_awaitable));
  out.error = bec;
  co_return out;
}

// Listens on every port of `ranges` at the responder's bind address, and on
// the IPv6 wildcard too when that is the IPv4 wildcard (where the host has
// IPv6: as the UDP echo does). `prepare` sets socket options before bind
// (may be empty); `serve` gets each listening acceptor (kept in `acceptors`)
// and its port. The first failure as text ("bind TLS 0.0.0.0:443: ..."), or "".
std::string listen_all(respond::ServiceHost& host, const std::vector<net::PortRange>& ranges, const std::string& label,
                       std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>>& acceptors,
                       const std::function<void(boost::asio::ip::tcp::acceptor&)>& prepare,
                       const std::function<void(boost::asio::ip::tcp::acceptor&, std::uint16_t)>& serve);

// The responder's side of a framed echo service (--tcp-ports, --tls-ports):
// the ServiceKind whose start-up makes a `Service` (constructed from the
// ServiceHost; start(ports) -> error text, stop(), housekeeping(now),
// summary()) and hands the host a handle that stops it.
template <class Service>
respond::ServiceKind service_kind(std::string name, std::string flag, std::string help) {
  struct Handle : respond::RunningService {
    explicit Handle(std::shared_ptr<Service> s) : service(std::move(s)) {}
    ~Handle() override { service->stop(); }
    void stop() override { service->stop(); }
    void housekeeping(Clock::time_point now) override { service->housekeeping(now); }
    std::string summary() const override { return service->summary(); }
    std::shared_ptr<Service> service;
  };
  respond::ServiceKind k;
  k.name = std::move(name);
  k.flag = std::move(flag);
  k.help = std::move(help);
  k.sockets_per_port = 2;  // IPv4 and, on the wildcard, IPv6
  k.start = [](respond::ServiceHost& host, const std::vector<net::PortRange>& ports,
               std::string& error) -> std::unique_ptr<respond::RunningService> {
    auto service = std::make_shared<Service>(host);
    error = service->start(ports);
    if (!error.empty()) {
      service->stop();
      return nullptr;
    }
    return std::make_unique<Handle>(std::move(service));
  };
  return k;
}

}  // namespace callready::checks::framed
