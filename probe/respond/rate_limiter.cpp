#include "probe/respond/rate_limiter.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <bit>

namespace callready::respond {

namespace asio = boost::asio;

namespace {

// SipHash-style mixing is overkill here; a keyed 64-bit mix of the address
// bytes is enough that a sender cannot choose which slot its sources hit.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void refill(double& tokens, Clock::time_point& last, Clock::time_point now, double rate) {
  double elapsed = std::chrono::duration<double>(now - last).count();
  if (elapsed > 0) tokens = std::min(rate, tokens + elapsed * rate);
  last = now;
}

}  // namespace

RateLimiter::RateLimiter(int rate, std::size_t slots)
    : rate_(rate > 0 ? rate : 1), buckets_(std::bit_ceil(std::max<std::size_t>(slots, 1))) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key_), sizeof key_) != 1) {
    key_[0] = 0x9e3779b97f4a7c15ULL;
    key_[1] = 0x6a09e667f3bcc909ULL;
  }
}

std::size_t RateLimiter::slot_of(const asio::ip::address& source) const {
  std::uint64_t h = key_[0];
  auto absorb = [&](const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t word = 0;
      for (std::size_t j = i; j < std::min(n, i + 8); ++j) word = word << 8 | p[j];
      h = mix(h ^ word ^ key_[1]);
    }
  };
  if (source.is_v4()) {
    auto b = source.to_v4().to_bytes();
    absorb(b.data(), b.size());
  } else {
    auto b = source.to_v6().to_bytes();
    absorb(b.data(), b.size());
  }
  return static_cast<std::size_t>(h & (buckets_.size() - 1));
}

bool RateLimiter::allow(const asio::ip::address& source, Clock::time_point now) {
  Bucket& b = buckets_[slot_of(source)];
  if (!b.used) {
    b = Bucket{rate_, now, true};
  } else {
    refill(b.tokens, b.last, now, rate_);
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

bool GlobalRateLimiter::allow(Clock::time_point now) {
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  refill(tokens_, last_, now, rate_);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace callready::respond
