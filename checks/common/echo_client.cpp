#include "checks/common/echo_client.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/endian/conversion.hpp>
#include <cerrno>
#include <cstring>

#include "checks/common/icmp_error_queue.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/path_rtt.hpp"
#include "probe/net/udp_msg.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;

bool IcmpError::port_unreachable() const {
  return (origin == SO_EE_ORIGIN_ICMP && type == 3 && code == 3) ||
         (origin == SO_EE_ORIGIN_ICMP6 && type == 1 && code == 4);
}
bool IcmpError::destination_unreachable() const {
  return (origin == SO_EE_ORIGIN_ICMP && type == 3 && code != 4) || (origin == SO_EE_ORIGIN_ICMP6 && type == 1);
}
bool IcmpError::too_big() const {
  return (origin == SO_EE_ORIGIN_ICMP && type == 3 && code == 4) || (origin == SO_EE_ORIGIN_ICMP6 && type == 2) ||
         (origin == SO_EE_ORIGIN_LOCAL && error == EMSGSIZE);
}
std::string IcmpError::describe() const {
  std::string what;
  if (port_unreachable())
    what = "ICMP port unreachable";
  else if (too_big())
    what = "packet too big (MTU " + std::to_string(info) + ")";
  else if (origin == SO_EE_ORIGIN_ICMP || origin == SO_EE_ORIGIN_ICMP6)
    what = std::string(origin == SO_EE_ORIGIN_ICMP ? "ICMP" : "ICMPv6") + " type " + std::to_string(type) + " code " +
           std::to_string(code);
  else
    what = std::strerror(error);
  if (offender) what += " from " + offender->to_string();
  return what;
}

EchoSocket::EchoSocket(asio::any_io_executor ex) : socket_(ex) {}
EchoSocket::~EchoSocket() = default;

std::optional<CheckError> EchoSocket::open(const udp& protocol, const EchoSocketOptions& options) {
  boost::system::error_code ec;
  token_ = options.token;
  report_junk_ = options.report_junk;
  socket_.open(protocol, ec);
  if (ec) return net::local_error(Operation::bind, "a UDP socket", ec);
  int fd = socket_.native_handle();
  int one = 1;
  bool v6 = protocol == udp::v6();
  if (v6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
    if (options.tos >= 0) ::setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &options.tos, sizeof options.tos);
    if (options.dont_fragment) {
      int mode = IPV6_PMTUDISC_PROBE;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof mode);
    }
  } else {
    ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
    if (options.tos >= 0) ::setsockopt(fd, IPPROTO_IP, IP_TOS, &options.tos, sizeof options.tos);
    if (options.dont_fragment) {
      int mode = IP_PMTUDISC_PROBE;
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode);
    }
  }
  if (options.reuse_address) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  socket_.non_blocking(true, ec);
  if (options.local) {
    socket_.bind(*options.local, ec);
    if (ec) {
      socket_.close();
      return net::local_error(Operation::bind,
                              "UDP " + net::format_host_port(options.local->address(), options.local->port()), ec);
    }
  }
  return std::nullopt;
}

udp::endpoint EchoSocket::local_endpoint() const {
  boost::system::error_code ec;
  return socket_.local_endpoint(ec);
}

bool EchoSocket::is_open() const { return socket_.is_open(); }

void EchoSocket::close() {
  boost::system::error_code ec;
  socket_.close(ec);
}

boost::system::error_code EchoSocket::send(const udp::endpoint& to, const echo::Request& request) {
  using boost::system::error_code;
  if (!socket_.is_open()) return asio::error::bad_descriptor;
  auto bytes = echo::encode_request(request, token_);
  // A queued ICMP error is reported (and consumed) by the next send, which is
  // then not sent: retry, the error itself stays on the error queue.
  int err = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ssize_t n = ::sendto(socket_.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT,
                         static_cast<const sockaddr*>(to.data()), static_cast<socklen_t>(to.size()));
    if (n >= 0) return {};
    err = errno;
    if (err != ECONNREFUSED && err != EHOSTUNREACH && err != ENETUNREACH && err != EHOSTDOWN) break;
  }
  return error_code(err, boost::system::system_category());
}

std::optional<EchoEvent> EchoSocket::poll_once(bool& would_block) {
  would_block = false;
  int fd = socket_.native_handle();
  // The error queue first: an ICMP error is small and must not wait behind replies.
  if (auto queued = read_icmp_error(fd); queued.consumed) {
    if (!queued.icmp) return std::nullopt;  // an error without the extended header: consumed, nothing to report
    EchoEvent ev;
    ev.kind = EchoEvent::Kind::icmp;
    ev.at = Clock::now();
    ev.icmp = *queued.icmp;
    return ev;
  }
  net::UdpRecv rx;
  static thread_local std::uint8_t buffer[echo::kMaxDatagram + 1];
  ssize_t n = rx.receive(fd, buffer, sizeof buffer);
  if (n < 0) {
    // ECONNREFUSED etc. here is the pending-error flag; the detail is on the error queue.
    would_block = errno == EAGAIN || errno == EWOULDBLOCK;
    return std::nullopt;
  }
  EchoEvent ev;
  ev.kind = EchoEvent::Kind::reply;
  ev.at = Clock::now();
  ev.from = rx.peer_endpoint();
  ev.tos = rx.tos();
  if (echo::decode_reply({buffer, static_cast<std::size_t>(n)}, token_, ev.reply) != echo::DecodeError::none) {
    if (!report_junk_) return std::nullopt;  // not ours, or tampered with: skipped
    ev.kind = EchoEvent::Kind::junk;         // the caller wants to know something else answered
  }
  return ev;
}

asio::awaitable<std::optional<EchoEvent>> EchoSocket::receive(Clock::time_point deadline) {
  Timer timer(socket_.get_executor());
  for (int spins = 0; socket_.is_open(); ++spins) {
    bool would_block = false;
    if (auto ev = poll_once(would_block)) co_return ev;
    if (Clock::now() >= deadline) co_return std::nullopt;
    if (!would_block && spins < 64) continue;  // consumed something without an event: look again
    spins = 0;
    timer.expires_at(deadline);
    // as_tuple: a close() during the wait ends the loop instead of throwing.
    auto which = co_await (socket_.async_wait(udp::socket::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (which.index() == 1) co_return std::nullopt;
    if (std::get<0>(std::get<0>(which))) co_return std::nullopt;
  }
  co_return std::nullopt;
}

asio::awaitable<EchoExchange> echo_once(asio::any_io_executor ex, udp::endpoint to, EchoSocketOptions options,
                                        echo::Request request, std::chrono::milliseconds timeout) {
  EchoExchange out;
  EchoSocket socket(ex);
  auto protocol = to.address().is_v6() ? udp::v6() : udp::v4();
  out.error = socket.open(protocol, options);
  if (out.error) co_return out;
  if (request.sent_us == 0) request.sent_us = echo::now_us();
  auto sent_at = Clock::now();
  out.send_error = socket.send(to, request);
  if (out.send_error) co_return out;
  auto deadline = sent_at + timeout;
  while (auto ev = co_await socket.receive(deadline)) {
    if (ev->kind == EchoEvent::Kind::icmp) {
      if (ev->icmp.destination == to) {
        out.event = std::move(ev);
        break;
      }
      continue;
    }
    if (ev->from == to && ev->reply.session == request.session && ev->reply.sequence == request.sequence) {
      out.rtt = std::chrono::duration_cast<std::chrono::microseconds>(ev->at - sent_at);
      out.event = std::move(ev);
      break;
    }
  }
  co_return out;
}

}  // namespace callready::checks

namespace callready::checks {

using asio::ip::tcp;

EchoStream::EchoStream(asio::any_io_executor ex) : socket_(ex) {}
EchoStream::~EchoStream() { close(); }

void EchoStream::close() {
  boost::system::error_code ec;
  socket_.close(ec);
  if (raw_fd_ >= 0) ::close(raw_fd_);
  raw_fd_ = -1;
}

tcp::endpoint EchoStream::local_endpoint() const {
  boost::system::error_code ec;
  return socket_.local_endpoint(ec);
}

asio::awaitable<EchoStream::ConnectResult> EchoStream::connect(tcp::endpoint to, EchoStreamOptions options,
                                                               std::chrono::milliseconds timeout) {
  ConnectResult out;
  close();
  token_ = options.token;
  read_tos_ = options.read_tos;
  rx_.clear();
  last_raw_tos_.reset();
  last_error_ = {};
  remote_ = to;
  boost::system::error_code ec;
  socket_.open(to.protocol(), ec);
  if (ec) {
    out.error = net::local_error(Operation::bind, "a TCP socket", ec);
    co_return out;
  }
  socket_.non_blocking(true, ec);
  int fd = socket_.native_handle();
  bool v6 = to.address().is_v6();
  if (options.tos >= 0) {
    if (v6)
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &options.tos, sizeof options.tos);
    else
      ::setsockopt(fd, IPPROTO_IP, IP_TOS, &options.tos, sizeof options.tos);
  }
  if (read_tos_) {
    int one = 1;
    if (v6)
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
    else
      raw_fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);  // -1 without CAP_NET_RAW
  }
  if (options.reuse_address) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (options.local) {
    socket_.bind(*options.local, ec);
    if (ec) {
      close();
      out.error = net::local_error(Operation::bind,
                                   "TCP " + net::format_host_port(options.local->address(), options.local->port()), ec);
      co_return out;
    }
  }
  // Silence is waited out for max(4 x RTT, 250 ms) once this scan has
  // measured an RTT to that address (net::PathRtt), else for `timeout`.
  auto& paths = net::path_rtt(socket_.get_executor());
  auto start = Clock::now();
  auto connecting = socket_.async_connect(to, asio::as_tuple(asio::use_awaitable));
  auto silence = paths.wait_silence(to.address(), start, timeout);
  auto which = co_await (std::move(connecting) || std::move(silence));
  if (which.index() == 1) {
    out.connect_error = asio::error::timed_out;
    close();
  } else if (auto cec = std::get<0>(std::get<0>(which))) {
    out.connect_error = cec;
    close();
  } else {
    paths.record(to.address(), Clock::now() - start);
  }
  co_return out;
}

asio::awaitable<boost::system::error_code> EchoStream::send(echo::Request request) {
  if (!socket_.is_open()) co_return asio::error::bad_descriptor;
  if (request.sent_us == 0) request.sent_us = echo::now_us();
  auto bytes = echo::encode_request(request, token_);
  std::vector<std::uint8_t> framed(2 + bytes.size());
  boost::endian::store_big_u16(framed.data(), static_cast<std::uint16_t>(bytes.size()));
  std::copy(bytes.begin(), bytes.end(), framed.begin() + 2);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(framed), asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

std::optional<std::uint8_t> EchoStream::read_tos() {
  if (!read_tos_ || !socket_.is_open()) return std::nullopt;
  int fd = socket_.native_handle();
  if (remote_.address().is_v6()) {
    // The options of the last segment received (RFC 2292 style, as Linux keeps them for TCP).
    alignas(8) std::uint8_t control[256];
    socklen_t len = sizeof control;
    if (::getsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, control, &len) != 0) return std::nullopt;
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = len;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        int tclass = 0;
        std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
        return static_cast<std::uint8_t>(tclass);
      }
    return std::nullopt;
  }
  if (raw_fd_ < 0) return std::nullopt;
  // Every TCP packet this host receives is copied to a raw socket before TCP
  // takes it: keep the TOS of the last segment with payload from our peer.
  auto local = local_endpoint();
  auto peer = remote_.address().to_v4().to_bytes();
  std::uint8_t packet[2048];
  for (int i = 0; i < 4096; ++i) {
    ssize_t n = ::recv(raw_fd_, packet, sizeof packet, MSG_DONTWAIT);
    if (n < 0) break;
    if (n < 40 || (packet[0] >> 4) != 4) continue;
    std::size_t ihl = (packet[0] & 0x0f) * 4u;
    if (static_cast<std::size_t>(n) < ihl + 20) continue;
    if (std::memcmp(packet + 12, peer.data(), 4) != 0) continue;
    const std::uint8_t* t = packet + ihl;
    if (boost::endian::load_big_u16(t) != remote_.port() || boost::endian::load_big_u16(t + 2) != local.port())
      continue;
    std::size_t total = boost::endian::load_big_u16(packet + 2);
    std::size_t doff = (t[12] >> 4) * 4u;
    if (total > ihl + doff) last_raw_tos_ = packet[1];  // carries payload
  }
  return last_raw_tos_;
}

asio::awaitable<std::optional<EchoStreamReply>> EchoStream::receive(Clock::time_point deadline) {
  // Bytes are read as they come into rx_, and frames taken from it whole: a
  // deadline never cuts a frame, so the stream stays usable after a timeout.
  Timer timer(socket_.get_executor());
  while (socket_.is_open()) {
    if (rx_.size() >= 2) {
      std::size_t length = boost::endian::load_big_u16(rx_.data());
      if (length < echo::kMinDatagram || length > echo::kMaxDatagram) {
        last_error_ = asio::error::invalid_argument;
        close();
        co_return std::nullopt;
      }
      if (rx_.size() >= 2 + length) {
        EchoStreamReply out;
        out.at = Clock::now();
        auto err = echo::decode_reply({rx_.data() + 2, length}, token_, out.reply);
        rx_.erase(rx_.begin(), rx_.begin() + 2 + static_cast<std::ptrdiff_t>(length));
        if (err != echo::DecodeError::none) continue;  // skipped, as over UDP
        out.tos = read_tos();
        co_return out;
      }
    }
    std::uint8_t chunk[16384];
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
    if (!ec) {
      rx_.insert(rx_.end(), chunk, chunk + n);
      continue;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) {
      last_error_ = ec;
      close();
      co_return std::nullopt;
    }
    if (Clock::now() >= deadline) {
      last_error_ = asio::error::timed_out;
      co_return std::nullopt;
    }
    timer.expires_at(deadline);
    auto which = co_await (socket_.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (which.index() == 1) {
      last_error_ = asio::error::timed_out;
      co_return std::nullopt;
    }
    if (auto wec = std::get<0>(std::get<0>(which))) {
      last_error_ = wec;
      co_return std::nullopt;
    }
  }
  co_return std::nullopt;
}

}  // namespace callready::checks
