#include "probe/clock.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace callready {

namespace {

// Only the test thread that owns a VirtualTime touches these; the atomics keep
// a reader on another thread (a GLib loop, a helper) well-defined.
std::atomic<bool> virtual_active{false};
std::atomic<Clock::rep> virtual_now{1'000'000'000'000};  // 1000 s: far from zero
std::atomic<Clock::rep> next_due{0};                     // 0: nothing noted

// Bounds a runaway virtual run: a test that waits longer than this for a
// scan to end has a bug, not a slow network.
constexpr auto kVirtualLimit = std::chrono::hours(24);

void note_due(Clock::rep t) {
  auto seen = next_due.load();
  while ((seen == 0 || t < seen) && !next_due.compare_exchange_weak(seen, t)) {
  }
}

}  // namespace

Clock::time_point Clock::now() noexcept {
  if (virtual_active.load(std::memory_order_relaxed)) return time_point(duration(virtual_now.load()));
  return time_point(std::chrono::steady_clock::now().time_since_epoch());
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::duration& d) {
  if (!virtual_active.load(std::memory_order_relaxed)) return d;
  if (d > Clock::duration::zero()) note_due(virtual_now.load() + d.count());
  return Clock::duration::zero();
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::time_point& t) {
  return to_wait_duration(t - Clock::now());
}

void run_io(boost::asio::io_context& io) {
  if (!virtual_active.load()) {
    io.run();
    return;
  }
  const auto limit = Clock::now() + kVirtualLimit;
  while (!io.stopped()) {
    if (io.poll() > 0) continue;
    if (io.stopped()) break;
    if (Clock::now() > limit) throw std::runtime_error("virtual time: the io_context never finished");
    // Idle: jump to the earliest timer noted, or creep by a millisecond when
    // none is (a socket may still be about to become ready).
    auto due = next_due.exchange(0);
    auto now = virtual_now.load();
    auto step = std::chrono::duration_cast<Clock::duration>(Millis(1)).count();
    virtual_now.store(due > now ? due : now + step);
  }
}

VirtualTime::VirtualTime() {
  if (virtual_active.exchange(true)) throw std::logic_error("VirtualTime is not nestable");
  next_due.store(0);
  start_ = Clock::now();
}

VirtualTime::~VirtualTime() { virtual_active.store(false); }

void VirtualTime::advance(Clock::duration d) { virtual_now.fetch_add(std::max(d, Clock::duration::zero()).count()); }

Clock::duration VirtualTime::elapsed() const { return Clock::now() - start_; }

}  // namespace callready
