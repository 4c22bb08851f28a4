#pragma once
// Per-source rate limits whose cost per packet does not depend on how many
// sources send: a fixed table of token buckets indexed by a keyed hash of the
// source address. Sources that share a slot share its bucket (with 16384
// slots and a per-process random key, a legitimate client rarely shares with a
// flooder, and a flooder cannot aim at one). Memory is fixed; nothing is ever
// pruned, so a flood of spoofed sources costs the same per packet as one
// source (a std::map pruned per packet fell from 78k to 6k answers/s past
// 10,000 sources).
#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "probe/clock.hpp"

namespace callready::respond {

class RateLimiter {
 public:
  using Clock = callready::Clock;
  static constexpr std::size_t kSlots = 16384;  // a power of two
  // `rate` per second per source, bursts up to `rate`.
  explicit RateLimiter(int rate, std::size_t slots = kSlots);
  bool allow(const boost::asio::ip::address& source, Clock::time_point now);
  void forget_idle(Clock::time_point) {}  // nothing to forget: the table is fixed
  std::size_t slots() const { return buckets_.size(); }
  std::size_t slot_of(const boost::asio::ip::address& source) const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last{};
    bool used = false;
  };
  double rate_;
  std::uint64_t key_[2];
  std::vector<Bucket> buckets_;
};

// One token bucket for a whole service (the open responder's answer cap).
class GlobalRateLimiter {
 public:
  using Clock = callready::Clock;
  explicit GlobalRateLimiter(int rate) : rate_(rate > 0 ? rate : 1), tokens_(rate_) {}
  bool allow(Clock::time_point now);

 private:
  double rate_;
  double tokens_;
  Clock::time_point last_{};
  bool started_ = false;
};

}  // namespace callready::respond
