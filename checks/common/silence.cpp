#include "checks/common/silence.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

namespace asio = boost::asio;

namespace callready::checks {

void write_silence(nlohmann::json& j, const std::optional<net::SilenceWait>& w, const std::string& prefix) {
  if (!w) return;
  j[prefix + "wait_ms"] = w->wait.count();
  j[prefix + "wait_basis"] = net::to_string(w->basis);
  if (w->rtt_ms) j[prefix + "path_rtt_ms"] = std::round(*w->rtt_ms * 100) / 100;
}

asio::awaitable<void> rtt_learned(net::PathRtt& paths, asio::ip::address to, Clock::time_point start, Millis budget,
                                  double fraction, bool watch) {
  double part = fraction;
  while (watch && Clock::now() < start + budget) {
    auto waiting = paths.wait_silence(to, start, budget, part);
    auto rule = co_await std::move(waiting);
    if (rule.basis == net::WaitBasis::rtt) co_return;
    part = 1.0;  // `fraction` of the budget passed with no RTT: only a recorded one wakes us now
  }
  Timer idle(co_await asio::this_coro::executor);
  idle.expires_at(Timer::time_point::max());
  co_await idle.async_wait(asio::use_awaitable);
}

}  // namespace callready::checks
