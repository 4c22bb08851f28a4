#pragma once
// The one interface every check kind implements (blackbox_exporter's prober
// shape), split in two:
//   measure(params, ctx) -> Measured<Result>   talks to the network, decides nothing
//   judge(result, params) -> Judgement         pure: findings and summary, no sockets
// The JSON `details` are written from the typed Result (`to_json`), never read
// back. The engine, not the check, owns the deadline and cancellation; a
// check only times its own phases (ctx.budget()) so that "no answer within
// N ms" is a measurement before the engine has to cut it off as an error.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "probe/clock.hpp"
#include "probe/metrics.hpp"
#include "probe/model.hpp"
#include "probe/params.hpp"
#include "probe/view.hpp"

namespace callready {

namespace net {
class Resolver;
class ResponderLink;
}  // namespace net

// Scan-wide settings a check may consult (the responder it talks to, its token).
struct ScanSettings {
  std::optional<std::string> responder;  // HOST[:PORT] of `callready respond`'s control port
  std::string token;
};

struct CheckContext {
  boost::asio::any_io_executor executor;
  net::Resolver& resolver;
  // End of this check's own timeout. The overall --timeout may cancel it
  // earlier; that is reported by the engine as error/timeout.
  Clock::time_point deadline;
  const ScanSettings& settings;
  // The scan's responder, asked once and shared by every cooperative check.
  net::ResponderLink& responder;
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

// What a measurement returns: the typed result, and when nothing about the
// network could be measured, why (the check is then an error; its details are
// still written from whatever the result holds).
template <class Result>
struct Measured {
  Result result;
  std::optional<CheckError> error;
};

// What a judge decides from a result: the findings and one line for people.
struct Judgement {
  std::string summary;
  std::vector<Finding> findings;
};

// A registered kind of check. Built with make_check_kind so the registry
// stays one line per kind.
struct CheckKind {
  std::string name;
  Millis default_timeout;
  // Validates params (after ${var} substitution); empty when valid.
  std::function<std::vector<ParamError>(const nlohmann::json&)> validate;
  // Human-readable target ("host:port") for reports and progress.
  std::function<std::string(const nlohmann::json&)> target;
  std::function<boost::asio::awaitable<CheckOutcome>(const nlohmann::json&, CheckContext&)> run;
  // What the HTML report draws from this kind's details; empty: a generic table.
  std::function<view::View(const nlohmann::json& details)> view;
  // What monitoring systems read from this kind's details; empty: none.
  std::function<metrics::Samples(const nlohmann::json& details)> metrics;
};

// The kind's functions. Params provides `static Params parse(ParamReader&)`
// and `std::string target() const`; Result provides `to_json(json&, const
// Result&)` and, when it learned the site's public address,
// `std::optional<std::string> public_address() const`.
template <class Params, class Result>
struct KindFunctions {
  boost::asio::awaitable<Measured<Result>> (*measure)(Params, CheckContext&);
  Judgement (*judge)(const Result&, const Params&);
  view::View (*view)(const nlohmann::json& details) = nullptr;
  metrics::Samples (*metrics)(const nlohmann::json& details) = nullptr;
};

template <class Result>
concept LearnsPublicAddress = requires(const Result& r) {
  { r.public_address() } -> std::convertible_to<std::optional<std::string>>;
};

// Measure, then judge, then write the details: the same for every kind.
template <class Params, class Result>
CheckOutcome outcome_of(const Measured<Result>& m, const Params& p, Judgement (*judge)(const Result&, const Params&)) {
  CheckOutcome o;
  o.details = m.result;
  if constexpr (LearnsPublicAddress<Result>) o.public_address = m.result.public_address();
  if (m.error) {
    o.summary = m.error->message;
    o.error = m.error;
    return o;
  }
  Judgement j = judge(m.result, p);
  o.summary = std::move(j.summary);
  o.findings = std::move(j.findings);
  return o;
}

template <class Params>
std::optional<CheckError> parse_params(const nlohmann::json& j, std::optional<Params>& out) {
  ParamReader r(j);
  out.emplace(Params::parse(r));
  r.finish();
  if (r.ok()) return std::nullopt;
  return CheckError{ErrorReason::bad_params, Operation::none,
                    r.errors().front().path + ": " + r.errors().front().message};
}

template <class Params, class Result>
CheckKind make_check_kind(std::string name, Millis default_timeout, KindFunctions<Params, Result> fns) {
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
  k.run = [fns](const nlohmann::json& j, CheckContext& ctx) -> boost::asio::awaitable<CheckOutcome> {
    std::optional<Params> p;
    if (auto bad = parse_params(j, p)) {
      CheckOutcome failed;
      failed.summary = bad->message;
      failed.error = std::move(bad);
      co_return failed;
    }
    // Named first: GCC 12 miscompiles by-value arguments inside co_await.
    auto measuring = fns.measure(*p, ctx);
    Measured<Result> m = co_await std::move(measuring);
    co_return outcome_of(m, *p, fns.judge);
  };
  if (fns.view) k.view = fns.view;
  if (fns.metrics) k.metrics = fns.metrics;
  return k;
}

}  // namespace callready
