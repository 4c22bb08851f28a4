#include "probe/respond/rate_limiter.hpp"

#include <algorithm>

namespace callready::respond {

namespace asio = boost::asio;

bool RateLimiter::allow(const asio::ip::address& source, Clock::time_point now) {
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxSources) forget_idle(now);
    if (buckets_.size() >= kMaxSources) return false;  // under a flood of sources: shed load
    it = buckets_.emplace(source, Bucket{rate_, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(rate_, b.tokens + elapsed * rate_);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void RateLimiter::forget_idle(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refill = std::chrono::duration<double>(now - it->second.last).count() * rate_;
    it = it->second.tokens + refill >= rate_ ? buckets_.erase(it) : std::next(it);
  }
}

}  // namespace callready::respond
