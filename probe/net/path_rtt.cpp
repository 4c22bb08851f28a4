#include "probe/net/path_rtt.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace callready::net {

std::string to_string(WaitBasis basis) { return basis == WaitBasis::rtt ? "rtt" : "timeout"; }

SilenceWait silence_wait_for(std::optional<Clock::duration> rtt, Millis budget) {
  SilenceWait w;
  w.wait = budget;
  if (!rtt) return w;
  auto derived = std::max(kSilenceFloor, std::chrono::ceil<Millis>(*rtt * kSilenceRttMultiple));
  w.basis = WaitBasis::rtt;
  w.rtt_ms = std::chrono::duration<double, std::milli>(*rtt).count();
  w.wait = std::min(derived, budget);
  return w;
}

void PathRtt::record(const asio::ip::address& to, Clock::duration rtt) {
  if (rtt < Clock::duration::zero()) return;
  auto& path = paths_[to];
  path.rtt = path.rtt ? std::max(*path.rtt, rtt) : rtt;
  ++path.samples;
  for (auto* timer : path.waiting) timer->cancel();  // each waiter works its deadline out again
}

std::optional<Clock::duration> PathRtt::rtt(const asio::ip::address& to) const {
  auto it = paths_.find(to);
  return it == paths_.end() ? std::nullopt : it->second.rtt;
}

int PathRtt::samples(const asio::ip::address& to) const {
  auto it = paths_.find(to);
  return it == paths_.end() ? 0 : it->second.samples;
}

SilenceWait PathRtt::silence_wait(const asio::ip::address& to, Millis budget) const {
  return silence_wait_for(rtt(to), budget);
}

asio::awaitable<SilenceWait> PathRtt::wait_silence(asio::ip::address to, Clock::time_point start, Millis budget,
                                                   double fraction) {
  Timer timer(co_await asio::this_coro::executor);
  // std::map nodes never move: the list outlives this wait.
  auto& waiting = paths_[to].waiting;
  waiting.push_back(&timer);
  struct Leave {
    std::vector<Timer*>& list;
    Timer* timer;
    ~Leave() { std::erase(list, timer); }
  } leave{waiting, &timer};
  for (;;) {
    auto rule = silence_wait(to, budget);
    auto due = start + std::chrono::duration_cast<Clock::duration>(rule.wait * fraction);
    if (Clock::now() >= due) co_return rule;
    timer.expires_at(due);
    (void)co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Woken early either by record() (go round again) or by our caller's cancellation.
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
      throw boost::system::system_error(asio::error::operation_aborted);
  }
}

namespace {

// One store per execution context: the scan's io_context owns it.
class PathRttService : public asio::execution_context::service {
 public:
  using key_type = PathRttService;
  static inline asio::execution_context::id id;
  explicit PathRttService(asio::execution_context& owner) : asio::execution_context::service(owner) {}
  PathRtt store;

 private:
  void shutdown() override {}
};

}  // namespace

PathRtt& path_rtt(const asio::any_io_executor& ex) {
  auto& owner = asio::query(ex, asio::execution::context);
  return asio::use_service<PathRttService>(owner).store;
}

}  // namespace callready::net
