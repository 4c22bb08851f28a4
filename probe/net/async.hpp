#pragma once
// Small coroutine tools every check needs: a timeout around one operation and
// "run these concurrently, wait for all". Both pass the engine's cancellation
// through to what they run.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "probe/clock.hpp"

namespace callready::net {

// Runs `op`; nullopt when `limit` passes first (op is then cancelled).
template <class T>
boost::asio::awaitable<std::optional<T>> with_timeout(boost::asio::awaitable<T> op, std::chrono::milliseconds limit) {
  using namespace boost::asio::experimental::awaitable_operators;
  callready::Timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(limit);
  auto r = co_await (std::move(op) || timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
  if (r.index() == 0) co_return std::move(std::get<0>(r));
  co_return std::nullopt;
}

// Runs every task concurrently and returns their results in order. If the
// caller is cancelled, every task is cancelled too. The first exception a task
// throws is rethrown after all have finished.
template <class T>
boost::asio::awaitable<std::vector<T>> gather(std::vector<boost::asio::awaitable<T>> tasks) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  struct State {
    std::vector<std::optional<T>> results;
    std::vector<asio::cancellation_signal> signals;
    std::size_t remaining;
    Timer done;
    std::exception_ptr error;
    State(asio::any_io_executor e, std::size_t n) : results(n), signals(n), remaining(n), done(e) {}
  };
  auto st = std::make_shared<State>(ex, tasks.size());
  if (tasks.empty()) co_return std::vector<T>{};
  st->done.expires_at(Timer::time_point::max());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(ex, std::move(tasks[i]),
                   asio::bind_cancellation_slot(st->signals[i].slot(), [st, i](std::exception_ptr e, T value) {
                     if (e && !st->error) st->error = e;
                     if (!e) st->results[i] = std::move(value);
                     if (--st->remaining == 0) st->done.cancel();
                   }));
  }
  co_await st->done.async_wait(asio::as_tuple(asio::use_awaitable));  // woken by cancel()
  if (st->remaining > 0) {
    for (auto& s : st->signals) s.emit(asio::cancellation_type::terminal);
    throw boost::system::system_error(asio::error::operation_aborted);
  }
  if (st->error) std::rethrow_exception(st->error);
  std::vector<T> out;
  out.reserve(st->results.size());
  for (auto& r : st->results) out.push_back(std::move(*r));
  co_return out;
}

}  // namespace callready::net
