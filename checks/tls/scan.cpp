#include "checks/tls/scan.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/clock.hpp"

namespace asio = boost::asio;

namespace callready::checks::tls {

namespace {

// Starts every probe: paces connection starts across all workers and stops
// starting new ones when the check's own time is nearly up.
class Prober {
 public:
  // The scan's own end leaves a fixed reserve (10% of what was left when it
  // began, at least 100 ms) for the check to assemble and report its outcome.
  Prober(tcp::endpoint ep, const ScanOptions& opt, CheckContext& ctx)
      : ep_(ep), opt_(opt), end_(ctx.deadline - std::max(Millis(100), ctx.remaining() / 10)) {}

  asio::awaitable<std::optional<ProbeResult>> probe(const Bytes& hello) {
    // A probe that could not start before the check's reserve is not started
    // at all: the check reports an incomplete enumeration instead of being cut off.
    auto now = Clock::now();
    auto start = std::max(now, next_start_);
    if (start + Millis(20) > end_) {
      out_of_time = true;
      co_return std::nullopt;
    }
    next_start_ = start + opt_.pace;
    if (start > now) {
      Timer t(co_await asio::this_coro::executor);
      t.expires_at(start);
      co_await t.async_wait(asio::use_awaitable);
    }
    auto budget = std::min<Clock::duration>(opt_.probe_timeout, end_ - Clock::now());
    if (budget < Millis(20)) {
      out_of_time = true;
      co_return std::nullopt;
    }
    ++connections;
    auto r = co_await probe_hello(ep_, hello, Clock::now() + budget);
    if (r.failure == Failure::local && local_failure.empty()) local_failure = r.message;
    co_return r;
  }

  int connections = 0;
  bool out_of_time = false;
  std::string local_failure;

 private:
  tcp::endpoint ep_;
  const ScanOptions& opt_;
  Clock::time_point end_;
  Clock::time_point next_start_ = Clock::now();
};

enum class Verdict { accepted, refused, inconclusive };

// `code` 0 accepts any suite (the version probe).
Verdict judge(const std::optional<ProbeResult>& r, TlsVersion v, std::uint16_t code) {
  if (!r) return Verdict::inconclusive;
  switch (r->failure) {
    case Failure::none:
      return r->reply.version == static_cast<std::uint16_t>(v) && (code == 0 || r->reply.cipher == code)
                 ? Verdict::accepted
                 : Verdict::refused;
    case Failure::alert:
    case Failure::closed:
    case Failure::reset:
      return Verdict::refused;
    default:
      return Verdict::inconclusive;
  }
}

struct Task {
  TlsVersion version;
  std::uint16_t code = 0;  // 0: the version probe (every suite offered)
  Bytes hello;
  std::optional<ProbeResult> result;
};

asio::awaitable<void> worker(std::vector<Task>& tasks, std::size_t& next, Prober& prober) {
  while (next < tasks.size()) {
    Task& t = tasks[next++];
    t.result = co_await prober.probe(t.hello);
  }
}

asio::awaitable<void> run_tasks(std::vector<Task>& tasks, Prober& prober, int parallel) {
  auto ex = co_await asio::this_coro::executor;
  std::size_t next = 0;
  std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, parallel)), tasks.size());
  using Op = decltype(asio::co_spawn(ex, worker(tasks, next, prober), asio::deferred));
  std::vector<Op> ops;
  for (std::size_t i = 0; i < n; ++i) ops.push_back(asio::co_spawn(ex, worker(tasks, next, prober), asio::deferred));
  if (ops.empty()) co_return;
  auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                             .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

asio::awaitable<std::optional<std::uint16_t>> pick_one(Prober& prober, const Bytes& tpl, TlsVersion v,
                                                       std::vector<std::uint16_t> offer) {
  Bytes hello = with_cipher_suites(tpl, offer);
  auto r = co_await prober.probe(hello);
  if (judge(r, v, 0) != Verdict::accepted) co_return std::nullopt;
  if (std::find(offer.begin(), offer.end(), r->reply.cipher) == offer.end()) co_return std::nullopt;
  co_return r->reply.cipher;
}

// Offers the accepted suites in two opposite orders: the same pick means the
// server chooses. Then re-offers what is left to read the whole order.
asio::awaitable<void> derive_order(VersionResult& vr, const Bytes& tpl, TlsVersion v, Prober& prober) {
  std::vector<std::uint16_t> all = vr.accepted;
  if (all.size() < 2) co_return;
  std::vector<std::uint16_t> reversed(all.rbegin(), all.rend());
  auto a = co_await pick_one(prober, tpl, v, all);
  auto b = co_await pick_one(prober, tpl, v, reversed);
  if (!a || !b) co_return;
  vr.server_order = *a == *b;
  if (!*vr.server_order) co_return;
  std::vector<std::uint16_t> order{*a};
  std::vector<std::uint16_t> rest;
  for (auto c : all)
    if (c != *a) rest.push_back(c);
  while (rest.size() > 1) {
    auto p = co_await pick_one(prober, tpl, v, rest);
    if (!p) break;
    order.push_back(*p);
    rest.erase(std::find(rest.begin(), rest.end(), *p));
  }
  order.insert(order.end(), rest.begin(), rest.end());
  vr.accepted = order;
}

asio::awaitable<void> derive_orders(std::vector<std::pair<VersionResult*, TlsVersion>> work,
                                    const std::map<TlsVersion, Bytes>& templates, Prober& prober) {
  for (auto& [vr, v] : work) co_await derive_order(*vr, templates.at(v), v, prober);
}

}  // namespace

asio::awaitable<ScanResult> scan_suites(tcp::endpoint ep, ScanOptions opt, CheckContext& ctx) {
  ScanResult res;
  Prober prober(ep, opt, ctx);
  std::map<TlsVersion, Bytes> templates;
  std::vector<Task> tasks;
  for (auto v : opt.versions) {
    std::string err;
    auto tpl = client_hello_template(v, opt.sni, &err);
    if (!tpl) {
      res.versions[v].untestable_reason = err;
      continue;
    }
    templates[v] = *tpl;
    std::vector<std::uint16_t> every;
    for (const auto& s : suites_for(v)) every.push_back(s.code);
    Task t{v, 0, with_cipher_suites(*tpl, every), std::nullopt};
    tasks.push_back(std::move(t));
  }
  co_await run_tasks(tasks, prober, opt.max_parallel);

  std::vector<Task> suite_tasks;
  for (auto& t : tasks) {
    VersionResult& vr = res.versions[t.version];
    Verdict verdict = judge(t.result, t.version, 0);
    vr.tested = verdict != Verdict::inconclusive;
    vr.supported = verdict == Verdict::accepted;
    if (!vr.supported)
      vr.probe_failure = !t.result ? "out of time"
                         : t.result->failure == Failure::none
                             ? "the server answered with another version"
                             : std::string(to_string(t.result->failure)) +
                                   (t.result->message.empty() ? "" : " (" + t.result->message + ")");
    if (!vr.supported) continue;
    for (const auto& s : suites_for(t.version)) {
      Task st{t.version, s.code, with_cipher_suites(templates[t.version], std::vector<std::uint16_t>{s.code}),
              std::nullopt};
      suite_tasks.push_back(std::move(st));
    }
  }
  co_await run_tasks(suite_tasks, prober, opt.max_parallel);
  for (auto& t : suite_tasks) {
    VersionResult& vr = res.versions[t.version];
    switch (judge(t.result, t.version, t.code)) {
      case Verdict::accepted:
        vr.accepted.push_back(t.code);
        break;
      case Verdict::refused:
        break;
      case Verdict::inconclusive:
        vr.inconclusive.push_back(suite_name(t.code));
        break;
    }
  }

  // Orders: one sequence per version, the versions side by side when the
  // connection limit allows it.
  std::vector<std::pair<VersionResult*, TlsVersion>> work;
  for (auto& [v, vr] : res.versions)
    if (vr.accepted.size() >= 2) work.emplace_back(&vr, v);
  if (static_cast<int>(work.size()) <= opt.max_parallel && work.size() > 1) {
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, derive_orders({}, templates, prober), asio::deferred));
    std::vector<Op> ops;
    for (auto& w : work) {
      std::vector<std::pair<VersionResult*, TlsVersion>> one{w};
      ops.push_back(asio::co_spawn(ex, derive_orders(std::move(one), templates, prober), asio::deferred));
    }
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  } else {
    co_await derive_orders(work, templates, prober);
  }
  res.connections = prober.connections;
  res.out_of_time = prober.out_of_time;
  res.local_failure = prober.local_failure;
  co_return res;
}

}  // namespace callready::checks::tls
