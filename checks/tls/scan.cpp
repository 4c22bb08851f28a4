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

// Accepted: a ServerHello for version `v` naming one of the suites offered.
Verdict judge(const std::optional<ProbeResult>& r, TlsVersion v, const std::vector<std::uint16_t>& offered) {
  if (!r) return Verdict::inconclusive;
  switch (r->failure) {
    case Failure::none:
      return r->reply.version == static_cast<std::uint16_t>(v) &&
                     std::find(offered.begin(), offered.end(), r->reply.cipher) != offered.end()
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

std::string refusal(const std::optional<ProbeResult>& r) {
  if (!r) return "out of time";
  if (r->failure == Failure::none) return "the server answered with another version";
  return std::string(to_string(r->failure)) + (r->message.empty() ? "" : " (" + r->message + ")");
}

// A first offer that ends without an answer (closed, reset, silence) may be
// a server or middlebox that drops large ClientHellos rather than a refusal.
bool may_be_size_intolerance(const std::optional<ProbeResult>& r) {
  return r && (r->failure == Failure::closed || r->failure == Failure::reset || r->failure == Failure::timeout);
}

// A group this small makes a ClientHello well under 256 bytes on the wire.
constexpr std::size_t kSmallOffer = 24;

// N + 1 handshakes for the N suites of `left` the server accepts: offer every
// suite not yet found and take the one the server picks, until it refuses.
// The picks come in the server's order when it has one (else in ours).
// `first` is the answer to offering all of `left`, when already asked.
asio::awaitable<void> pick_suites(VersionResult& vr, const Bytes& tpl, TlsVersion v, Prober& prober,
                                  std::vector<std::uint16_t> left, std::optional<ProbeResult> first) {
  for (bool asked = first.has_value(); !left.empty(); asked = false) {
    std::optional<ProbeResult> r = first;
    if (!asked) {
      Bytes hello = with_cipher_suites(tpl, left);
      r = co_await prober.probe(hello);
    }
    Verdict verdict = judge(r, v, left);
    if (verdict == Verdict::inconclusive)
      for (auto c : left) vr.inconclusive.push_back(suite_name(c));
    if (verdict != Verdict::accepted) break;
    vr.accepted.push_back(r->reply.cipher);
    left.erase(std::find(left.begin(), left.end(), r->reply.cipher));
  }
}

// One version. The first offer (every suite) is the version probe; when it
// gets no answer at all, a small offer tells a server that drops large
// ClientHellos from one that refuses the version, and the suites then go out
// in small groups. One more handshake offering the picks reversed tells
// whether the server has an order.
asio::awaitable<void> enumerate_version(VersionResult& vr, const Bytes& tpl, TlsVersion v, Prober& prober) {
  std::vector<std::uint16_t> all;
  for (const auto& s : suites_for(v)) all.push_back(s.code);
  Bytes full = with_cipher_suites(tpl, all);
  auto r = co_await prober.probe(full);
  Verdict verdict = judge(r, v, all);
  std::size_t group = all.size();
  if (verdict != Verdict::accepted && may_be_size_intolerance(r) && all.size() > kSmallOffer) {
    std::vector<std::uint16_t> small(all.begin(), all.begin() + kSmallOffer);
    Bytes small_hello = with_cipher_suites(tpl, small);
    auto s = co_await prober.probe(small_hello);
    if (judge(s, v, small) == Verdict::accepted) {
      vr.large_hello_intolerant = true;
      vr.refused_hello_bytes = full.size();
      group = kSmallOffer;
      r = s;
      verdict = Verdict::accepted;
    }
  }
  vr.tested = verdict != Verdict::inconclusive;
  vr.supported = verdict == Verdict::accepted;
  if (!vr.supported) {
    vr.probe_failure = refusal(r);
    co_return;
  }
  for (std::size_t at = 0; at < all.size(); at += group) {
    std::vector<std::uint16_t> part(all.begin() + static_cast<long>(at),
                                    all.begin() + static_cast<long>(std::min(all.size(), at + group)));
    std::optional<ProbeResult> answered = at == 0 ? r : std::nullopt;
    co_await pick_suites(vr, tpl, v, prober, std::move(part), std::move(answered));
  }
  if (vr.accepted.size() < 2 || vr.large_hello_intolerant) co_return;
  std::vector<std::uint16_t> reversed(vr.accepted.rbegin(), vr.accepted.rend());
  Bytes reversed_hello = with_cipher_suites(tpl, reversed);
  auto o = co_await prober.probe(reversed_hello);
  if (judge(o, v, reversed) == Verdict::accepted) vr.server_order = o->reply.cipher == vr.accepted.front();
}

}  // namespace

asio::awaitable<ScanResult> scan_suites(tcp::endpoint ep, ScanOptions opt, CheckContext& ctx) {
  ScanResult res;
  Prober prober(ep, opt, ctx);
  std::map<TlsVersion, Bytes> templates;
  for (auto v : opt.versions) {
    std::string err;
    auto tpl = client_hello_template(v, opt.sni, &err);
    if (!tpl)
      res.versions[v].untestable_reason = err;
    else
      templates[v] = *tpl;
  }
  // One sequence per version, the versions side by side when the connection
  // limit allows it.
  auto ex = co_await asio::this_coro::executor;
  if (static_cast<int>(templates.size()) <= opt.max_parallel && templates.size() > 1) {
    using Op = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<void>>(), asio::deferred));
    std::vector<Op> ops;
    for (auto& [v, tpl] : templates)
      ops.push_back(asio::co_spawn(ex, enumerate_version(res.versions[v], tpl, v, prober), asio::deferred));
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  } else {
    for (auto& [v, tpl] : templates) co_await enumerate_version(res.versions[v], tpl, v, prober);
  }
  res.connections = prober.connections;
  res.out_of_time = prober.out_of_time;
  res.local_failure = prober.local_failure;
  co_return res;
}

}  // namespace callready::checks::tls
