#pragma once
// What every TCP service of the responder needs, so that no client (or crowd
// of spoofed-looking clients) can hold its descriptors:
//  - TcpConnectionLimits: a global and a per-source cap on live connections;
//  - TcpSessionGuard: counts one connection while it lives and closes it when
//    nothing has been *received* for the idle limit (answering does not keep
//    a connection alive: a client that sends a byte a minute is cut off);
//  - accept_connections: the accept loop, which drops connections over a cap
//    at once and, when this process is out of descriptors (EMFILE/ENFILE),
//    pauses accepting instead of spinning, logging once per episode.
// The STUN, SIP and control services use all three; any TCP service should.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "probe/clock.hpp"
#include "probe/respond/service.hpp"

namespace callready::respond {

// Caps a TCP service starts with unless it says otherwise.
inline constexpr std::size_t kMaxTcpConnections = 256;  // per service, all ports together
inline constexpr std::size_t kMaxTcpPerSource = 16;     // per client address
inline constexpr auto kTcpIdleLimit = std::chrono::seconds(30);
// The control port: a hello takes one round trip and at most 5 s.
inline constexpr std::size_t kMaxControlConnections = 64;
inline constexpr std::size_t kMaxControlPerSource = 8;

class TcpConnectionLimits {
 public:
  explicit TcpConnectionLimits(std::size_t global_cap = kMaxTcpConnections,
                               std::size_t per_source_cap = kMaxTcpPerSource)
      : global_cap_(global_cap), per_source_cap_(per_source_cap) {}

  // Whether one more connection from `source` fits under both caps.
  bool admits(const boost::asio::ip::address& source) const {
    if (total_ >= global_cap_) return false;
    auto it = per_source_.find(source);
    return it == per_source_.end() || it->second < per_source_cap_;
  }
  void add(const boost::asio::ip::address& source) {
    ++total_;
    ++per_source_[source];
  }
  // The map only holds sources with live connections: at most global_cap entries.
  void remove(const boost::asio::ip::address& source) {
    --total_;
    if (auto it = per_source_.find(source); it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  }
  std::size_t total() const { return total_; }
  std::size_t from(const boost::asio::ip::address& source) const {
    auto it = per_source_.find(source);
    return it == per_source_.end() ? 0 : it->second;
  }
  std::size_t global_cap() const { return global_cap_; }
  std::size_t per_source_cap() const { return per_source_cap_; }
  std::uint64_t refused = 0;  // connections closed at once for a cap

 private:
  struct AddressHash {
    std::size_t operator()(const boost::asio::ip::address& a) const { return std::hash<std::string>()(a.to_string()); }
  };
  std::size_t global_cap_, per_source_cap_;
  std::size_t total_ = 0;
  std::unordered_map<boost::asio::ip::address, std::size_t, AddressHash> per_source_;
};

class TcpSessionGuard {
 public:
  TcpSessionGuard(TcpConnectionLimits& limits, std::shared_ptr<boost::asio::ip::tcp::socket> sock,
                  callready::Clock::duration idle_limit)
      : limits_(limits),
        sock_(std::move(sock)),
        state_(std::make_shared<State>(sock_->get_executor())),
        idle_limit_(idle_limit) {
    boost::system::error_code ec;
    source_ = sock_->remote_endpoint(ec).address();
    limits_.add(source_);
    state_->last_received = callready::Clock::now();
    arm(state_, sock_, idle_limit_, state_->last_received + idle_limit_);
  }
  ~TcpSessionGuard() {
    state_->timer.cancel();
    limits_.remove(source_);
  }
  TcpSessionGuard(const TcpSessionGuard&) = delete;
  TcpSessionGuard& operator=(const TcpSessionGuard&) = delete;

  // Bytes arrived: the idle clock starts again from now. Sending does not count.
  void received() { state_->last_received = callready::Clock::now(); }

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
    callready::Timer timer;
    callready::Clock::time_point last_received{};
  };
  // One timer per connection, re-armed only when it fires: receiving costs a
  // store, not a timer operation. The handler holds weak references: a handler
  // that owned its own timer would free it from inside the timer's teardown.
  static void arm(const std::shared_ptr<State>& state, const std::shared_ptr<boost::asio::ip::tcp::socket>& sock,
                  callready::Clock::duration idle, callready::Clock::time_point at) {
    state->timer.expires_at(at);
    state->timer.async_wait([weak_state = std::weak_ptr<State>(state),
                             weak_sock = std::weak_ptr<boost::asio::ip::tcp::socket>(sock),
                             idle](boost::system::error_code e) {
      auto state = weak_state.lock();
      auto sock = weak_sock.lock();
      if (e || !state || !sock) return;
      auto due = state->last_received + idle;
      if (callready::Clock::now() >= due) {
        boost::system::error_code ignored;
        sock->close(ignored);
        return;
      }
      arm(state, sock, idle, due);
    });
  }

  TcpConnectionLimits& limits_;
  std::shared_ptr<boost::asio::ip::tcp::socket> sock_;
  std::shared_ptr<State> state_;
  callready::Clock::duration idle_limit_;
  boost::asio::ip::address source_;
};

// Out of descriptors (this process or the system): retrying at once would spin.
inline bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system ||
         ec.value() == ENOBUFS || ec.value() == ENOMEM;
}

using ConnectionHandler =
    std::function<void(std::shared_ptr<boost::asio::ip::tcp::socket>, std::unique_ptr<TcpSessionGuard>)>;

// Accepts on `acc` until it is closed. Each connection within `limits` goes
// to `serve` with its guard (counted from the moment it is accepted, so a
// burst of connects cannot overshoot a cap); one over a cap is closed at once
// (counted in limits.refused). Callers name every argument before co_await
// (GCC 12 and temporaries in a co_await-ed call).
// On EMFILE/ENFILE the loop pauses (100 ms, doubling to 2 s) and logs once
// until an accept succeeds again.
inline boost::asio::awaitable<void> accept_connections(boost::asio::ip::tcp::acceptor& acc, TcpConnectionLimits& limits,
                                                       std::string service, ResponderLog log,
                                                       callready::Clock::duration idle_limit, ConnectionHandler serve) {
  namespace asio = boost::asio;
  auto pause = std::chrono::milliseconds(100);
  std::uint64_t failures = 0;
  Timer backoff(acc.get_executor());
  for (;;) {
    auto sock = std::make_shared<asio::ip::tcp::socket>(acc.get_executor());
    auto [ec] = co_await acc.async_accept(*sock, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
    if (ec && out_of_descriptors(ec)) {
      if (failures++ == 0 && log)
        log("warn",
            service + ": cannot accept (" + ec.message() + "); pausing new connections until descriptors free up");
      backoff.expires_after(pause);
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(2));
      continue;
    }
    if (ec) continue;
    if (failures > 0) {
      if (log) log("info", service + ": accepting again after " + std::to_string(failures) + " failed accept(s)");
      failures = 0;
      pause = std::chrono::milliseconds(100);
    }
    boost::system::error_code pec;
    auto peer = sock->remote_endpoint(pec);
    if (pec || !limits.admits(peer.address())) {
      ++limits.refused;
      sock->close(pec);
      continue;
    }
    auto guard = std::make_unique<TcpSessionGuard>(limits, sock, idle_limit);
    serve(std::move(sock), std::move(guard));
  }
}

}  // namespace callready::respond
