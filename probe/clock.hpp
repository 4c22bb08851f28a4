#pragma once
// The one clock and timer type of the program (libtorrent's aux::deadline_timer
// idea): every deadline, timeout, retransmission schedule and "now" goes
// through `Clock` and `Timer`, so a test can switch the whole process to
// virtual time and run a 40-second retransmission schedule or a 120-second
// engine deadline in microseconds, deterministically.
//
// Real time: Clock::now() is std::chrono::steady_clock::now().
// Virtual time (a VirtualTime object alive): Clock::now() only moves when the
// test advances it, and run_io() advances it to the next timer whenever the
// io_context has nothing else to do.
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

namespace callready {

struct Clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock, duration>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

// How long Asio's reactor may sleep until a timer is due. In virtual time it
// never sleeps (timers are polled against the virtual clock) and the earliest
// pending expiry is noted so run_io() knows where to jump.
struct ClockWaitTraits {
  static Clock::duration to_wait_duration(const Clock::duration& d);
  static Clock::duration to_wait_duration(const Clock::time_point& t);
};

using Timer = boost::asio::basic_waitable_timer<Clock, ClockWaitTraits>;
using Millis = std::chrono::milliseconds;

// Runs `io` until it runs out of work or is stopped: io.run() in real time;
// in virtual time, poll and jump the clock to the next due timer when idle.
void run_io(boost::asio::io_context& io);

// While alive, the process runs in virtual time starting at an arbitrary
// epoch. Not nestable; tests only.
class VirtualTime {
 public:
  VirtualTime();
  ~VirtualTime();
  VirtualTime(const VirtualTime&) = delete;
  VirtualTime& operator=(const VirtualTime&) = delete;
  static void advance(Clock::duration d);
  // Virtual time elapsed since this object was made.
  Clock::duration elapsed() const;

 private:
  Clock::time_point start_;
};

}  // namespace callready
