#include "probe/net/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>
#include <stdexcept>

#include "probe/clock.hpp"
#include "probe/net/host_port.hpp"

namespace asio = boost::asio;

namespace callready::net {

const char* to_string(DnsFailure f) {
  switch (f) {
    case DnsFailure::none:
      return "none";
    case DnsFailure::no_data:
      return "no_data";
    case DnsFailure::nxdomain:
      return "nxdomain";
    case DnsFailure::servfail:
      return "servfail";
    case DnsFailure::refused:
      return "refused";
    case DnsFailure::timeout:
      return "timeout";
    case DnsFailure::unreachable:
      return "unreachable";
    case DnsFailure::bad_response:
      return "bad_response";
    case DnsFailure::bad_name:
      return "bad_name";
    case DnsFailure::other:
      return "other";
  }
  return "other";
}

std::optional<DnsServer> parse_dns_server(const std::string& text) {
  auto hp = parse_host_port(text);
  if (!hp) return std::nullopt;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) return std::nullopt;
  return DnsServer{addr, hp->port.value_or(53)};
}

namespace {

std::once_flag ares_init_once;

DnsFailure failure_from_status(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return DnsFailure::none;
    case ARES_ENODATA:
      return DnsFailure::no_data;
    case ARES_ENOTFOUND:
      return DnsFailure::nxdomain;
    case ARES_ESERVFAIL:
      return DnsFailure::servfail;
    case ARES_EREFUSED:
      return DnsFailure::refused;
    case ARES_ETIMEOUT:
      return DnsFailure::timeout;
    case ARES_ECONNREFUSED:
      return DnsFailure::unreachable;
    case ARES_EBADNAME:
      return DnsFailure::bad_name;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
      return DnsFailure::bad_response;
    default:
      return DnsFailure::other;
  }
}

DnsFailure failure_from_rcode(int rcode) {
  switch (rcode) {
    case ns_r_noerror:
      return DnsFailure::none;
    case ns_r_nxdomain:
      return DnsFailure::nxdomain;
    case ns_r_servfail:
      return DnsFailure::servfail;
    case ns_r_refused:
      return DnsFailure::refused;
    case ns_r_formerr:
      return DnsFailure::bad_response;
    default:
      return DnsFailure::other;
  }
}

std::string endpoint_text(const DnsServer& s) { return format_host_port(s.address, s.port); }

}  // namespace

struct Resolver::Impl : std::enable_shared_from_this<Impl> {
  struct Watch {
    std::unique_ptr<asio::posix::stream_descriptor> descriptor;
    bool want_read = false, want_write = false;
    bool read_pending = false, write_pending = false;
  };

  // One in-flight query. c-ares owns a heap shared_ptr to it until its callback.
  template <class Result>
  struct Pending {
    // Boost 1.81's any_completion_handler move-assignment recurses without end
    // (it copies from an lvalue into its converting constructor): only ever
    // construct it in place.
    std::optional<asio::any_completion_handler<void(boost::system::error_code, Result)>> handler;
    Timer timer;
    callready::Clock::time_point start = callready::Clock::now();
    bool done = false;
    explicit Pending(asio::any_io_executor ex) : timer(ex) {}

    void complete(boost::system::error_code ec, Result r) {
      if (done) return;
      done = true;
      timer.cancel();
      auto slot = asio::get_associated_cancellation_slot(*handler);
      if (slot.is_connected()) slot.clear();
      auto h = std::move(*handler);
      handler.reset();
      auto ex = timer.get_executor();
      // Never complete inline: we may be inside a c-ares callback.
      asio::post(ex, [h = std::move(h), ec, r = std::move(r)]() mutable { std::move(h)(ec, std::move(r)); });
    }
  };

  asio::any_io_executor ex;
  ares_channel channel = nullptr;
  std::map<ares_socket_t, Watch> sockets;
  Timer timer;
  std::optional<DnsServer> server;

  Impl(asio::any_io_executor e, std::optional<DnsServer> s) : ex(e), timer(e), server(s) {}

  void init() {
    std::call_once(ares_init_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options opts{};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    opts.sock_state_cb = &Impl::on_socket_state;
    opts.sock_state_cb_data = this;
    // Keep SERVFAIL/REFUSED answers so the rcode can be reported (STACK.md).
    opts.flags = ARES_FLAG_NOCHECKRESP;
    opts.timeout = 1500;
    opts.tries = 2;
    char lookups_dns_only[] = "b";
    if (server) {
      mask |= ARES_OPT_LOOKUPS;
      opts.lookups = lookups_dns_only;
    }
    if (int rc = ares_init_options(&channel, &opts, mask); rc != ARES_SUCCESS)
      throw std::runtime_error(std::string("c-ares init: ") + ares_strerror(rc));
    if (server) {
      ares_addr_port_node node{};
      node.next = nullptr;
      if (server->address.is_v4()) {
        node.family = AF_INET;
        auto b = server->address.to_v4().to_bytes();
        std::memcpy(&node.addr.addr4, b.data(), b.size());
      } else {
        node.family = AF_INET6;
        auto b = server->address.to_v6().to_bytes();
        std::memcpy(&node.addr.addr6, b.data(), b.size());
      }
      node.udp_port = server->port;
      node.tcp_port = server->port;
      if (int rc = ares_set_servers_ports(channel, &node); rc != ARES_SUCCESS)
        throw std::runtime_error(std::string("c-ares servers: ") + ares_strerror(rc));
    }
  }

  ~Impl() {
    if (channel) ares_destroy(channel);
    for (auto& [fd, w] : sockets) w.descriptor->release();
  }

  std::string describe() const {
    if (server) return endpoint_text(*server);
    std::string out;
    ares_addr_port_node* nodes = nullptr;
    if (channel && ares_get_servers_ports(channel, &nodes) == ARES_SUCCESS) {
      for (auto* n = nodes; n; n = n->next) {
        char buf[INET6_ADDRSTRLEN] = {};
        ares_inet_ntop(n->family, &n->addr, buf, sizeof buf);
        DnsServer s{asio::ip::make_address(buf), static_cast<unsigned short>(n->udp_port ? n->udp_port : 53)};
        out += (out.empty() ? "" : ",") + endpoint_text(s);
      }
      ares_free_data(nodes);
    }
    return out.empty() ? "system resolver" : out;
  }

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    if (!readable && !writable) {
      auto it = self->sockets.find(fd);
      if (it != self->sockets.end()) {
        it->second.descriptor->release();  // c-ares closes the fd itself
        self->sockets.erase(it);
      }
      return;
    }
    auto& w = self->sockets[fd];
    if (!w.descriptor) w.descriptor = std::make_unique<asio::posix::stream_descriptor>(self->ex, fd);
    w.want_read = readable;
    w.want_write = writable;
    self->arm(fd);
  }

  void arm(ares_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    auto& w = it->second;
    auto weak = weak_from_this();
    auto* desc = w.descriptor.get();
    if (w.want_read && !w.read_pending) {
      w.read_pending = true;
      desc->async_wait(asio::posix::descriptor_base::wait_read, [weak, fd, desc](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        auto it = self->sockets.find(fd);
        if (it == self->sockets.end() || it->second.descriptor.get() != desc) return;
        it->second.read_pending = false;
        if (ec) return;
        ares_process_fd(self->channel, fd, ARES_SOCKET_BAD);
        self->arm(fd);
        self->arm_timer();
      });
    }
    if (w.want_write && !w.write_pending) {
      w.write_pending = true;
      desc->async_wait(asio::posix::descriptor_base::wait_write, [weak, fd, desc](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        auto it = self->sockets.find(fd);
        if (it == self->sockets.end() || it->second.descriptor.get() != desc) return;
        it->second.write_pending = false;
        if (ec) return;
        ares_process_fd(self->channel, ARES_SOCKET_BAD, fd);
        self->arm(fd);
        self->arm_timer();
      });
    }
  }

  // c-ares' own retransmission timer.
  void arm_timer() {
    timeval tv{};
    if (!ares_timeout(channel, nullptr, &tv)) {
      timer.cancel();
      return;
    }
    timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->arm_timer();
    });
  }

  template <class Result, class Start>
  auto start(std::chrono::milliseconds timeout, Start&& begin) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(boost::system::error_code, Result)>(
        [this, timeout, begin = std::forward<Start>(begin)](auto handler) mutable {
          auto p = std::make_shared<Pending<Result>>(ex);
          p->handler.emplace(std::move(handler));
          // The type-erased handler keeps its own cancellation state chained to
          // the caller's slot; listen on that inner slot, never replace the outer one.
          auto slot = asio::get_associated_cancellation_slot(*p->handler);
          if (slot.is_connected()) {
            slot.assign([wp = std::weak_ptr<Pending<Result>>(p)](asio::cancellation_type) {
              if (auto p = wp.lock()) p->complete(asio::error::operation_aborted, Result{});
            });
          }
          p->timer.expires_after(timeout);
          p->timer.async_wait([wp = std::weak_ptr<Pending<Result>>(p)](boost::system::error_code ec) {
            auto p = wp.lock();
            if (!p || ec) return;
            Result r;
            r.failure = DnsFailure::timeout;
            p->complete({}, std::move(r));
          });
          begin(new std::shared_ptr<Pending<Result>>(p));
          arm_timer();
        },
        asio::use_awaitable);
  }

  static void on_send_done(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<std::shared_ptr<Pending<DnsResponse>>> holder(
        static_cast<std::shared_ptr<Pending<DnsResponse>>*>(arg));
    auto& p = **holder;
    if (p.done) return;
    DnsResponse r;
    r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(callready::Clock::now() - p.start);
    if (status == ARES_SUCCESS && abuf && alen >= 12) {
      r.message.assign(abuf, abuf + alen);
      r.rcode = abuf[3] & 0x0f;
      r.failure = failure_from_rcode(r.rcode);
    } else {
      r.failure = status == ARES_SUCCESS ? DnsFailure::bad_response : failure_from_status(status);
      r.error = ares_strerror(status);
    }
    p.complete({}, std::move(r));
  }

  static void on_addrinfo_done(void* arg, int status, int /*timeouts*/, ares_addrinfo* ai) {
    std::unique_ptr<std::shared_ptr<Pending<HostLookup>>> holder(
        static_cast<std::shared_ptr<Pending<HostLookup>>*>(arg));
    auto& p = **holder;
    HostLookup r;
    if (status == ARES_SUCCESS && ai) {
      std::vector<asio::ip::address> v4, v6;
      for (auto* n = ai->nodes; n; n = n->ai_next) {
        if (n->ai_family == AF_INET) {
          auto* sa = reinterpret_cast<sockaddr_in*>(n->ai_addr);
          asio::ip::address_v4::bytes_type b;
          std::memcpy(b.data(), &sa->sin_addr, 4);
          v4.emplace_back(asio::ip::address_v4(b));
        } else if (n->ai_family == AF_INET6) {
          auto* sa = reinterpret_cast<sockaddr_in6*>(n->ai_addr);
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), &sa->sin6_addr, 16);
          v6.emplace_back(asio::ip::address_v6(b));
        }
      }
      for (auto& a : v4)
        if (std::find(r.addresses.begin(), r.addresses.end(), a) == r.addresses.end()) r.addresses.push_back(a);
      for (auto& a : v6)
        if (std::find(r.addresses.begin(), r.addresses.end(), a) == r.addresses.end()) r.addresses.push_back(a);
      r.failure = r.addresses.empty() ? DnsFailure::no_data : DnsFailure::none;
    } else {
      r.failure = failure_from_status(status);
      r.message = ares_strerror(status);
    }
    if (ai) ares_freeaddrinfo(ai);
    p.complete({}, std::move(r));
  }
};

Resolver::Resolver(asio::any_io_executor ex, std::optional<DnsServer> server)
    : impl_(std::make_shared<Impl>(ex, server)) {
  impl_->init();
}

Resolver::~Resolver() = default;

asio::awaitable<DnsResponse> Resolver::query(std::string name, int type, std::chrono::milliseconds timeout) {
  unsigned char* buf = nullptr;
  int len = 0;
  int rc = ares_create_query(name.c_str(), ns_c_in, type, 0, 1, &buf, &len, 0);
  if (rc != ARES_SUCCESS) {
    DnsResponse r;
    r.failure = failure_from_status(rc == ARES_ENOTFOUND ? ARES_EBADNAME : rc);
    r.error = ares_strerror(rc);
    co_return r;
  }
  std::vector<unsigned char> q(buf, buf + len);
  ares_free_string(buf);
  auto* impl = impl_.get();
  auto keep = impl_;
  // Named, not a temporary inside the co_await: GCC 12 miscompiles temporaries
  // with non-trivial members there (STACK.md).
  auto send = [impl, q = std::move(q)](auto* holder) {
    ares_send(impl->channel, q.data(), static_cast<int>(q.size()), &Impl::on_send_done, holder);
  };
  DnsResponse r = co_await impl->start<DnsResponse>(timeout, std::move(send));
  r.server = impl->describe();
  co_return r;
}

std::string Resolver::servers() const { return impl_->describe(); }

asio::awaitable<HostLookup> Resolver::lookup_host(std::string host, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  auto literal = asio::ip::make_address(host, ec);
  if (!ec) co_return HostLookup{{literal}, DnsFailure::none, {}};
  auto* impl = impl_.get();
  auto keep = impl_;
  auto lookup = [impl, host](auto* holder) {
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(impl->channel, host.c_str(), nullptr, &hints, &Impl::on_addrinfo_done, holder);
  };
  HostLookup result = co_await impl->start<HostLookup>(timeout, std::move(lookup));
  co_return result;
}

}  // namespace callready::net
