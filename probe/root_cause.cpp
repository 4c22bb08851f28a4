#include "probe/root_cause.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace callready {

namespace {

// Groups checks under a key, remembering the first cause seen for each.
struct Groups {
  std::vector<RootCause> causes;
  std::map<std::string, std::size_t> index;
  std::set<std::string> grouped;  // check ids already under a cause

  void add(const std::string& key, const std::string& code, const std::string& message, const std::string& check) {
    auto [it, fresh] = index.emplace(key, causes.size());
    if (fresh) causes.push_back({code, message, {}});
    causes[it->second].checks.push_back(check);
    grouped.insert(check);
  }
};

// The cause a check names: as the step it depended on (its error), or as
// what its own test found (a DNS check that found the DNS server unreachable).
const Cause* named_cause(const CheckRecord& c) {
  if (c.status == Status::error && c.error && c.error->cause) return &*c.error->cause;
  if (c.status == Status::error || c.status == Status::skipped) return nullptr;
  for (const auto& f : c.findings)
    if (f.cause) return &*f.cause;
  return nullptr;
}

// Checks that name the same cause, in the same words (the words, not the
// code: a DNS server that timed out and one that refused the socket are the
// same "DNS does not work here").
void group_named_causes(const std::vector<CheckRecord>& checks, Groups& g) {
  for (const auto& c : checks)
    if (const auto* cause = named_cause(c))
      g.add("cause\n" + (cause->message.empty() ? cause->code : cause->message), cause->code, cause->message, c.id);
}

// The same error, word for word, on two or more checks: the far end or this
// machine stopped them all (the responder is not running, a token mismatch).
void group_shared_errors(const std::vector<CheckRecord>& checks, Groups& g) {
  std::map<std::string, std::vector<const CheckRecord*>> same;
  for (const auto& c : checks)
    if (c.status == Status::error && c.error && !g.grouped.count(c.id) && c.error->reason != ErrorReason::internal)
      same[fmt::format("{}\n{}\n{}", to_string(c.error->reason), to_string(c.error->operation), c.error->message)]
          .push_back(&c);
  for (const auto& [key, list] : same) {
    if (list.size() < 2) continue;
    const auto& e = *list.front()->error;
    std::string code = e.operation == Operation::none
                           ? to_string(e.reason)
                           : fmt::format("{}.{}", to_string(e.reason), to_string(e.operation));
    // `setup`: the far end (the responder) is missing, refused us, or lacks a service.
    std::string message =
        e.reason == ErrorReason::setup ? fmt::format("The responder cannot be used ({})", e.message) : e.message;
    for (const auto* c : list) g.add("error\n" + key, code, message, c->id);
  }
}

bool failed_to_reach(const CheckRecord& c) {
  if (c.status != Status::fail) return false;
  bool any = false;
  for (const auto& f : c.findings) {
    if (f.severity == Severity::info) continue;
    if (f.operation != Operation::connect && f.operation != Operation::send && f.operation != Operation::receive)
      return false;
    any = true;
  }
  return any;
}

// Every check aimed at one host (two or more) failed to reach it.
void group_unreachable_hosts(const std::vector<CheckRecord>& checks, Groups& g) {
  std::map<std::string, std::vector<const CheckRecord*>> by_host;
  std::vector<std::string> order;
  for (const auto& c : checks) {
    if (c.status == Status::skipped || g.grouped.count(c.id)) continue;
    auto host = target_host(c.target);
    if (host.empty()) continue;
    if (!by_host.count(host)) order.push_back(host);
    by_host[host].push_back(&c);
  }
  for (const auto& host : order) {
    const auto& list = by_host[host];
    if (list.size() < 2 || !std::all_of(list.begin(), list.end(), [](auto* c) { return failed_to_reach(*c); }))
      continue;
    for (const auto* c : list)
      g.add("host\n" + host, "host.unreachable", fmt::format("{} cannot be reached from here", host), c->id);
  }
}

}  // namespace

std::string target_host(const std::string& target) {
  auto end = target.find_first_of(" /");
  std::string t = target.substr(0, end);
  if (!t.empty() && t.front() == '[') {
    auto close = t.find(']');
    return close == std::string::npos ? t : t.substr(1, close - 1);
  }
  if (std::count(t.begin(), t.end(), ':') == 1) t = t.substr(0, t.find(':'));
  return t;
}

std::vector<RootCause> find_root_causes(const std::vector<CheckRecord>& checks) {
  Groups g;
  group_named_causes(checks, g);
  group_shared_errors(checks, g);
  group_unreachable_hosts(checks, g);
  std::stable_sort(g.causes.begin(), g.causes.end(),
                   [](const RootCause& a, const RootCause& b) { return a.checks.size() > b.checks.size(); });
  return std::move(g.causes);
}

}  // namespace callready
