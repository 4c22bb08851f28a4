#pragma once
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <map>

#include "probe/clock.hpp"

namespace callready::respond {

// Token bucket per source address: `rate` per second, bursts up to `rate`.
class RateLimiter {
 public:
  using Clock = callready::Clock;
  static constexpr std::size_t kMaxSources = 65536;
  explicit RateLimiter(int rate) : rate_(rate > 0 ? rate : 1) {}
  bool allow(const boost::asio::ip::address& source, Clock::time_point now);
  void forget_idle(Clock::time_point now);  // drops sources whose bucket is full again
  std::size_t sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  double rate_;
  std::map<boost::asio::ip::address, Bucket> buckets_;
};

}  // namespace callready::respond
