#pragma once
// What a service loop does with an exception it caught: count it, log it at
// most once per interval (with how many were suppressed meanwhile), and go on.
// A loop that ended on one bad packet would leave its port bound and silent.
#include <cstdint>
#include <string>

#include "probe/clock.hpp"
#include "probe/respond/service.hpp"

namespace callready::respond {

class LoopFaults {
 public:
  LoopFaults(std::string service, ResponderLog log, Clock::duration interval = std::chrono::seconds(10))
      : service_(std::move(service)), log_(std::move(log)), interval_(interval) {}

  void caught(const std::string& what, Clock::time_point now);
  std::uint64_t count() const { return count_; }

 private:
  std::string service_;
  ResponderLog log_;
  Clock::duration interval_;
  std::uint64_t count_ = 0;
  std::uint64_t suppressed_ = 0;
  Clock::time_point last_logged_{};
  bool logged_once_ = false;
};

// A log that passes at most `lines` lines per `interval` and then only counts,
// writing "N lines suppressed" with the next line that passes: a flood of
// refused connections or bad packets must not become a flood of log.
ResponderLog rate_limited_log(ResponderLog log, std::string source, std::size_t lines = 20,
                              Clock::duration interval = std::chrono::seconds(10));

}  // namespace callready::respond
