#pragma once
// The idle-time ladder of `nat_timeout` and what it proves. Each rung is one
// binding (or TCP connection) left idle for `idle_s` and tested exactly once,
// by the responder's deferred packet; the lifetime lies between the longest
// idle time that still reached the client and the shortest that did not.
// Pure: no sockets, no clock.
#include <optional>
#include <string>
#include <vector>

namespace callready::checks::nat_timeout {

// 15, 30, 45, 60, 90, 120, 180 s, ... up to 2 h: fine where NAT timeouts
// usually sit (a few tens of seconds to a few minutes), coarse above.
const std::vector<int>& default_ladder();

// The rungs to test: those of `wanted` (default_ladder() when empty) up to
// `max_s`, plus `max_s` itself, sorted and unique. Rungs below 1 s are dropped.
std::vector<int> plan_ladder(const std::vector<int>& wanted, int max_s);

// What happened to one rung.
enum class RungOutcome {
  reached,  // the deferred packet arrived: the binding outlived idle_s
  expired,  // it did not, though the responder provably sent it
  unknown,  // could not tell (the responder's own proof of sending is missing)
};
const char* to_string(RungOutcome);

struct Rung {
  int idle_s = 0;
  RungOutcome outcome = RungOutcome::unknown;
  // TCP, when expired: what the client saw when it used the connection again
  // afterwards ("reset", "silence", "reply", "closed"); empty otherwise.
  std::string after;
};

// One protocol and warm-up variant (UDP call-like, UDP single exchange, TCP).
struct Lifetime {
  std::vector<Rung> rungs;  // in ladder order
  // The path itself carried nothing (no warm-up reply / no connection): no rung was tested.
  std::optional<std::string> unreachable;

  int max_s() const;                          // longest idle time tried (0: none)
  std::optional<int> lifetime_min_s() const;  // longest idle time that reached the client
  // The shortest longer than lifetime_min_s that did not; nullopt when none
  // expired (one below a reached rung is loss, not the lifetime).
  std::optional<int> lifetime_max_s() const;
  std::optional<int> contradicted_s() const;  // the shortest rung that expired below a reached one
  bool consistent() const;                    // no rung reached above one that expired
  int unknown() const;                        // rungs that could not be told
  std::string range() const;                  // "45-50 s", "at least 150 s", "below 15 s"
};

// Combines one variant's per-rung arrivals with the canary's: reached when the
// rung's reply arrived, expired when only the canary's did, unknown otherwise.
Lifetime combine(const std::vector<int>& rungs, const std::vector<bool>& arrived, const std::vector<bool>& canary);

}  // namespace callready::checks::nat_timeout
