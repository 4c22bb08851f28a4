#include "checks/common/udp_echo_service.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <cerrno>
#include <cstring>

#include "checks/common/clock_state.hpp"
#include "checks/common/echo_probe.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/udp_msg.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::udp;

bool DeferralBudget::acquire(const asio::ip::address& source) {
  if (total_ >= kGlobal) return false;
  auto& n = per_source_[source];
  if (n >= kPerSource) return false;
  ++n;
  ++total_;
  return true;
}

void DeferralBudget::release(const asio::ip::address& source) {
  auto it = per_source_.find(source);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
  --total_;
}

std::optional<echo::StreamView> StreamSessions::observe(const Key& key, std::uint32_t sequence, Clock::time_point now) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    auto& from_source = per_source_[key.source.address()];
    if (sessions_.size() >= kGlobal || from_source >= kPerSource) {
      expire(now);
      if (sessions_.size() >= kGlobal || per_source_[key.source.address()] >= kPerSource) return std::nullopt;
    }
    ++per_source_[key.source.address()];
    it = sessions_.emplace(key, Record{}).first;
  }
  auto& v = it->second.view;
  it->second.last_seen = now;
  if (v.received == 0) {
    v.highest = sequence;
    v.bitmap = 0;
    v.received = 1;
  } else if (sequence > v.highest) {
    std::uint32_t shift = sequence - v.highest;
    // The old highest becomes bit shift-1; older ones move up with it.
    v.bitmap = shift > echo::kStreamWindow    ? 0
               : shift == echo::kStreamWindow ? (1ull << 63)
                                              : (v.bitmap << shift) | (1ull << (shift - 1));
    v.highest = sequence;
    ++v.received;
  } else if (sequence == v.highest) {
    ++v.duplicates;
  } else if (std::uint32_t back = v.highest - sequence; back <= echo::kStreamWindow) {
    std::uint64_t bit = 1ull << (back - 1);
    if (v.bitmap & bit)
      ++v.duplicates;
    else {
      v.bitmap |= bit;
      ++v.received;
    }
  } else {
    ++v.received;  // older than the window: counted, a duplicate there is not told apart
  }
  return v;
}

void StreamSessions::erase(std::map<Key, Record>::iterator it) {
  auto s = per_source_.find(it->first.source.address());
  if (s != per_source_.end() && --s->second == 0) per_source_.erase(s);
  sessions_.erase(it);
}

void StreamSessions::expire(Clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_seen >= kIdle) erase(it);
    it = next;
  }
  for (auto it = per_source_.begin(); it != per_source_.end();)
    it = it->second == 0 ? per_source_.erase(it) : std::next(it);
}

UdpEchoService::UdpEchoService(asio::io_context& io, const ResponderOptions& opts, SessionLog& sessions,
                               ResponderLog log, std::vector<net::PortRange> ports,
                               const respond::ControlSessions* control_sessions)
    : io_(io),
      opts_(opts),
      ranges_(std::move(ports)),
      sessions_(sessions),
      control_sessions_(control_sessions),
      log_(std::move(log)),
      limiter_(opts.max_pps),
      buffer_(echo::kMaxDatagram + 1) {}

UdpEchoService::~UdpEchoService() { stop(); }

std::string UdpEchoService::bind(const asio::ip::address& address, std::uint16_t port) {
  auto p = std::make_unique<Port>(Port{udp::socket(io_), port, address.is_v6()});
  boost::system::error_code ec;
  p->socket.open(p->v6 ? udp::v6() : udp::v4(), ec);
  if (ec) return "socket: " + ec.message();
  int fd = p->socket.native_handle();
  int one = 1;
  if (p->v6) {
    p->socket.set_option(asio::ip::v6_only(true), ec);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
  } else {
    ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
  }
  p->socket.non_blocking(true, ec);
  p->socket.bind(udp::endpoint(address, port), ec);
  if (ec) return "bind UDP " + net::format_host_port(address, port) + ": " + ec.message();
  arm(*p);
  ports_.push_back(std::move(p));
  return {};
}

std::string UdpEchoService::start() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(opts_.bind_address, ec);
  if (ec) return "bad bind address \"" + opts_.bind_address + "\"";
  bool wildcard_v4 = address.is_v4() && address.to_v4().is_unspecified();
  bool v6_failed = false;
  for (const auto& range : ranges_) {
    for (unsigned port = range.first; port <= range.last; ++port) {
      if (auto err = bind(address, static_cast<std::uint16_t>(port)); !err.empty()) return err;
      // The wildcard also serves IPv6 when the host has it (lab and sites often do).
      if (wildcard_v4 && !v6_failed && !bind(asio::ip::address_v6::any(), static_cast<std::uint16_t>(port)).empty())
        v6_failed = true;
    }
  }
  if (v6_failed) log_("debug", "udp-echo: IPv6 wildcard not available, serving IPv4 only on some ports");
  return {};
}

void UdpEchoService::stop() {
  stopped_ = true;
  for (auto& d : pending_) d.timer->cancel();
  for (auto& p : ports_) {
    boost::system::error_code ec;
    p->socket.close(ec);
  }
}

void UdpEchoService::arm(Port& p) {
  p.socket.async_wait(udp::socket::wait_read, [this, &p](const boost::system::error_code& ec) {
    if (ec) return;  // closed at shutdown
    drain(p);
    arm(p);
  });
}

void UdpEchoService::drain(Port& p) {
  int fd = p.socket.native_handle();
  // Bounded per wake-up so that one busy port cannot starve the others.
  for (int i = 0; i < 64; ++i) {
    net::UdpRecv rx;
    ssize_t n = rx.receive(fd, buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;  // a pending error (e.g. ICMP for an earlier reply): consumed, go on
    }
    auto now = Clock::now();
    std::uint64_t received_us = echo::now_us();
    udp::endpoint from = rx.peer_endpoint();
    std::uint8_t tos = rx.tos();
    in_pktinfo pi4{};
    in6_pktinfo pi6{};
    bool have_pktinfo = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&rx.msg); c; c = CMSG_NXTHDR(&rx.msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        std::memcpy(&pi4, CMSG_DATA(c), sizeof pi4);
        have_pktinfo = true;
      }
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        std::memcpy(&pi6, CMSG_DATA(c), sizeof pi6);
        have_pktinfo = true;
      }
    }
    std::span<const std::uint8_t> datagram(buffer_.data(), static_cast<std::size_t>(n));
    std::uint64_t peek_session = datagram.size() >= 16 ? boost::endian::load_big_u64(datagram.data() + 8) : 0;
    auto record = [&](SessionLog::Outcome o, std::uint64_t session) {
      sessions_.record("udp-echo", from.address(), session, from.port(), p.number, o, now);
    };
    if (!limiter_.allow(from.address(), now)) {
      ++stats_.rate_limited;
      record(SessionLog::Outcome::rate_limited, peek_session);
      continue;
    }
    // With a token, only an address the control port opened a session for
    // is answered: checked before the mac, so a spoofed flood costs no HMAC.
    if (!opts_.token.empty() && !(control_sessions_ && control_sessions_->is_open(from.address(), now))) {
      ++stats_.no_session;
      record(SessionLog::Outcome::unauthenticated, 0);
      continue;
    }
    echo::Request request;
    auto err = echo::decode_request(datagram, opts_.token, request);
    if (err == echo::DecodeError::unauthenticated || err == echo::DecodeError::bad_mac) {
      ++stats_.unauthenticated;  // dropped silently: no oracle for token guessing
      record(SessionLog::Outcome::unauthenticated, 0);
      continue;
    }
    if (err != echo::DecodeError::none) {
      ++stats_.malformed;
      record(SessionLog::Outcome::malformed, 0);
      continue;
    }
    echo::Observation seen{from, tos, received_us, static_cast<std::uint16_t>(std::min<std::size_t>(n, 65535))};
    Route route;
    std::memcpy(&route.peer, &rx.peer, sizeof route.peer);
    route.peer_len = rx.msg.msg_namelen;
    route.have_pktinfo = have_pktinfo;
    route.pi4 = pi4;
    route.pi6 = pi6;
    echo::ReplyMarks marks;
    marks.reply_tos = request.reply_tos;
    bool defer = request.reply_delay_ms && *request.reply_delay_ms > 0 && deferrals_.acquire(from.address());
    if (request.reply_delay_ms && *request.reply_delay_ms > 0 && !defer) ++stats_.deferral_refused;
    marks.delayed = defer;
    echo::StreamView view;
    if (request.stream) {
      auto recorded = stream_view(request, from, now);
      if (!recorded) {
        ++stats_.streams_refused;
        record(SessionLog::Outcome::rate_limited, request.session);
        continue;
      }
      view = *recorded;
    }
    auto reply = echo::encode_reply(request, seen, opts_.token, marks, view);
    if (defer) {
      ++stats_.deferred;
      auto& d =
          pending_.emplace_back(Deferred{&p, route, from.address(), std::move(reply), request.reply_tos, nullptr});
      d.timer = std::make_unique<Timer>(io_);
      d.timer->expires_after(std::chrono::milliseconds(*request.reply_delay_ms));
      d.timer->async_wait([this, it = std::prev(pending_.end())](const boost::system::error_code& ec) {
        if (ec || stopped_) return;  // cancelled at shutdown: the list is being torn down
        auto& w = *it;
        send(*w.port, w.route, w.bytes, w.tos);  // logged as answered when it was received
        deferrals_.release(w.source);
        pending_.erase(it);
      });
      record(SessionLog::Outcome::answered, request.session);
      continue;
    }
    if (!send(p, route, reply, request.reply_tos)) continue;
    record(SessionLog::Outcome::answered, request.session);
  }
}

bool UdpEchoService::send(Port& p, const Route& route, const std::vector<std::uint8_t>& bytes,
                          std::optional<std::uint8_t> tos) {
  // Reply from the address the request was sent to, with the TOS asked for.
  alignas(8) std::uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))]{};
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  msghdr out{};
  out.msg_name = const_cast<sockaddr_storage*>(&route.peer);
  out.msg_namelen = route.peer_len;
  out.msg_iov = &iov;
  out.msg_iovlen = 1;
  std::size_t control_len =
      (route.have_pktinfo ? (p.v6 ? CMSG_SPACE(sizeof(in6_pktinfo)) : CMSG_SPACE(sizeof(in_pktinfo))) : 0) +
      (tos ? CMSG_SPACE(sizeof(int)) : 0);
  if (control_len > 0) {
    out.msg_control = control;
    out.msg_controllen = control_len;
    cmsghdr* c = CMSG_FIRSTHDR(&out);
    if (route.have_pktinfo) {
      if (p.v6) {
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        in6_pktinfo src{};
        src.ipi6_addr = route.pi6.ipi6_addr;
        src.ipi6_ifindex = route.pi6.ipi6_ifindex;
        std::memcpy(CMSG_DATA(c), &src, sizeof src);
      } else {
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo src{};
        src.ipi_spec_dst = route.pi4.ipi_addr;
        std::memcpy(CMSG_DATA(c), &src, sizeof src);
      }
      c = CMSG_NXTHDR(&out, c);
    }
    if (tos) {
      int value = *tos;
      c->cmsg_level = p.v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      c->cmsg_type = p.v6 ? IPV6_TCLASS : IP_TOS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &value, sizeof value);
    }
  }
  if (::sendmsg(p.socket.native_handle(), &out, MSG_DONTWAIT) < 0) {
    ++stats_.send_errors;
    return false;
  }
  ++stats_.answered;
  return true;
}

std::optional<echo::StreamView> UdpEchoService::stream_view(const echo::Request& request, const udp::endpoint& from,
                                                            Clock::time_point now) {
  auto view = streams_.observe({from, request.session}, request.sequence, now);
  if (!view) return view;
  if (!clock_read_at_ || now - *clock_read_at_ >= std::chrono::seconds(1)) {
    auto state = read_clock_state();
    clock_.clock_known = state.known;
    clock_.clock_synchronised = state.synchronised;
    clock_.clock_error_ms = static_cast<std::uint16_t>(std::clamp(state.estimated_error_ms, 0.0, 65535.0));
    clock_read_at_ = now;
  }
  view->clock_known = clock_.clock_known;
  view->clock_synchronised = clock_.clock_synchronised;
  view->clock_error_ms = clock_.clock_error_ms;
  view->sent_us = echo::now_us();
  return view;
}

std::string UdpEchoService::summary() const {
  return fmt::format(
      "{} probes answered, {} rate-limited, {} unauthenticated, {} malformed, {} deferred, {} "
      "deferrals refused, {} streams refused, {} from addresses without a control session",
      stats_.answered, stats_.rate_limited, stats_.unauthenticated, stats_.malformed, stats_.deferred,
      stats_.deferral_refused, stats_.streams_refused, stats_.no_session);
}

respond::ServiceKind udp_echo_service() {
  respond::ServiceKind k;
  k.name = "udp_echo";
  k.flag = "--udp-ports";
  k.help = "UDP echo ports, e.g. 5004,9000,19560-19661";
  k.sockets_per_port = 2;
  k.start = [](respond::ServiceHost& host, const std::vector<net::PortRange>& ports,
               std::string& error) -> std::unique_ptr<respond::RunningService> {
    auto service =
        std::make_unique<UdpEchoService>(host.io, host.options, host.sessions, host.log, ports, host.control_sessions);
    error = service->start();
    if (!error.empty()) return nullptr;
    return service;
  };
  return k;
}

}  // namespace callready::checks
