#pragma once
// What every TCP service of the responder needs per connection: count it
// against the service's limit while it lives, and close it when it sits idle
// (so idle connections cannot pile up). The STUN and SIP services share it.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>

#include "probe/clock.hpp"

namespace callready::respond {

class TcpSessionGuard {
 public:
  TcpSessionGuard(std::size_t& connections, std::shared_ptr<boost::asio::ip::tcp::socket> sock,
                  callready::Clock::duration idle_limit)
      : connections_(connections),
        sock_(std::move(sock)),
        idle_(std::make_shared<callready::Timer>(sock_->get_executor())),
        idle_limit_(idle_limit) {
    ++connections_;
    touch();
  }
  ~TcpSessionGuard() {
    idle_->cancel();
    --connections_;
  }
  TcpSessionGuard(const TcpSessionGuard&) = delete;
  TcpSessionGuard& operator=(const TcpSessionGuard&) = delete;

  // Activity: restart the idle clock.
  void touch() {
    idle_->expires_after(idle_limit_);
    idle_->async_wait([sock = sock_](boost::system::error_code e) {
      if (!e) sock->close();
    });
  }

 private:
  std::size_t& connections_;
  std::shared_ptr<boost::asio::ip::tcp::socket> sock_;
  std::shared_ptr<callready::Timer> idle_;
  callready::Clock::duration idle_limit_;
};

}  // namespace callready::respond
