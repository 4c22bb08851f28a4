#include "checks/nat_timeout/nat_timeout_ladder.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace callready::checks::nat_timeout {

const std::vector<int>& default_ladder() {
  static const std::vector<int> ladder = {15,  30,  45,  60,   90,   120,  180,  240,  300,
                                          450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200};
  return ladder;
}

std::vector<int> plan_ladder(const std::vector<int>& wanted, int max_s) {
  const auto& from = wanted.empty() ? default_ladder() : wanted;
  std::vector<int> out;
  for (int t : from)
    if (t >= 1 && t <= max_s) out.push_back(t);
  if (max_s >= 1) out.push_back(max_s);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const char* to_string(RungOutcome o) {
  switch (o) {
    case RungOutcome::reached:
      return "reached";
    case RungOutcome::expired:
      return "expired";
    case RungOutcome::unknown:
      break;
  }
  return "unknown";
}

int Lifetime::max_s() const {
  int m = 0;
  for (const auto& r : rungs) m = std::max(m, r.idle_s);
  return m;
}

std::optional<int> Lifetime::lifetime_min_s() const {
  std::optional<int> m;
  for (const auto& r : rungs)
    if (r.outcome == RungOutcome::reached && (!m || r.idle_s > *m)) m = r.idle_s;
  return m;
}

// A binding that outlived a longer idle time outlives every shorter one: an
// expired rung below the longest reached one is a lost packet (the request
// or the deferred reply), not the lifetime, and does not bound it.
std::optional<int> Lifetime::lifetime_max_s() const {
  auto lo = lifetime_min_s();
  std::optional<int> m;
  for (const auto& r : rungs)
    if (r.outcome == RungOutcome::expired && (!lo || r.idle_s > *lo) && (!m || r.idle_s < *m)) m = r.idle_s;
  return m;
}

std::optional<int> Lifetime::contradicted_s() const {
  auto lo = lifetime_min_s();
  std::optional<int> m;
  for (const auto& r : rungs)
    if (r.outcome == RungOutcome::expired && lo && r.idle_s < *lo && (!m || r.idle_s < *m)) m = r.idle_s;
  return m;
}

bool Lifetime::consistent() const { return !contradicted_s(); }

int Lifetime::unknown() const {
  return static_cast<int>(
      std::count_if(rungs.begin(), rungs.end(), [](const Rung& r) { return r.outcome == RungOutcome::unknown; }));
}

std::string Lifetime::range() const {
  auto lo = lifetime_min_s();
  auto hi = lifetime_max_s();
  if (hi && !lo) return fmt::format("below {} s", *hi);
  if (hi) return fmt::format("{}-{} s", *lo, *hi);
  if (lo) return fmt::format("at least {} s", *lo);
  return "not measured";
}

Lifetime combine(const std::vector<int>& rungs, const std::vector<bool>& arrived, const std::vector<bool>& canary) {
  Lifetime l;
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    Rung r;
    r.idle_s = rungs[i];
    if (i < arrived.size() && arrived[i])
      r.outcome = RungOutcome::reached;
    else if (i < canary.size() && canary[i])
      r.outcome = RungOutcome::expired;
    l.rungs.push_back(r);
  }
  return l;
}

}  // namespace callready::checks::nat_timeout
