#pragma once
// The one interface every check implements (blackbox_exporter's prober shape):
// typed params parsed from JSON, a context, a CheckOutcome back. The engine,
// not the check, owns the deadline and cancellation; a check only times its own
// phases (ctx.budget()) so that it can report "no answer within N ms" as a
// finding before the engine has to cut it off as an error.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "probe/model.hpp"
#include "probe/params.hpp"

namespace callready {

namespace net {
class Resolver;
}

// Scan-wide settings a check may consult (the responder it talks to, its token).
struct ScanSettings {
  std::optional<std::string> responder;  // HOST[:PORT] of `callready respond`'s control port
  std::string token;
};

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct CheckContext {
  boost::asio::any_io_executor executor;
  net::Resolver& resolver;
  // End of this check's own timeout. The overall --timeout may cancel it
  // earlier; that is reported by the engine as error/timeout.
  Clock::time_point deadline;
  const ScanSettings& settings;
  std::function<void(const std::string&)> log;  // debug log line, never user output

  // Time left before the engine cancels this check.
  Millis remaining() const {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    return left.count() > 0 ? left : Millis(0);
  }
  // A phase budget: `wanted`, but leave room (10%, at least 50 ms) to report
  // the outcome before the engine's deadline.
  Millis budget(Millis wanted) const {
    auto left = remaining();
    auto reserve = std::max(Millis(50), left / 10);
    auto usable = left > reserve ? left - reserve : Millis(0);
    return std::min(wanted, usable);
  }
};

// A registered kind of check. Built from a typed Params struct with
// make_check_kind so the registry stays one line per kind.
struct CheckKind {
  std::string name;
  Millis default_timeout;
  // Validates params (after ${var} substitution); empty when valid.
  std::function<std::vector<ParamError>(const nlohmann::json&)> validate;
  // Human-readable target ("host:port") for reports and progress.
  std::function<std::string(const nlohmann::json&)> target;
  std::function<boost::asio::awaitable<CheckOutcome>(const nlohmann::json&, CheckContext&)> run;
};

// Params must provide: static Params parse(ParamReader&); std::string target() const.
template <class Params>
CheckKind make_check_kind(std::string name, Millis default_timeout,
                          boost::asio::awaitable<CheckOutcome> (*run)(Params, CheckContext&)) {
  CheckKind k;
  k.name = std::move(name);
  k.default_timeout = default_timeout;
  k.validate = [](const nlohmann::json& j) {
    ParamReader r(j);
    (void)Params::parse(r);
    r.finish();
    return r.errors();
  };
  k.target = [](const nlohmann::json& j) {
    ParamReader r(j);
    return Params::parse(r).target();
  };
  k.run = [run](const nlohmann::json& j, CheckContext& ctx) -> boost::asio::awaitable<CheckOutcome> {
    ParamReader r(j);
    Params p = Params::parse(r);
    r.finish();
    if (!r.ok())
      co_return CheckOutcome::failed("bad_params", r.errors().front().path + ": " + r.errors().front().message);
    co_return co_await run(std::move(p), ctx);
  };
  return k;
}

}  // namespace callready
