#include "probe/respond/session_log.hpp"

#include <vector>

#include "probe/net/port_ranges.hpp"

namespace callready::respond {
namespace {

std::string join_ranges(const std::set<std::uint16_t>& ports) {
  std::string out;
  for (const auto& r : net::merge_port_ranges(std::vector<std::uint16_t>(ports.begin(), ports.end())))
    out += (out.empty() ? "" : ",") + r;
  return out.empty() ? "-" : out;
}

bool opens_session(SessionLog::Outcome o) {
  return o == SessionLog::Outcome::answered || o == SessionLog::Outcome::accepted;
}

}  // namespace

void SessionLog::Counts::add(Outcome o) {
  switch (o) {
    case Outcome::answered:
      ++answered;
      break;
    case Outcome::rate_limited:
      ++rate_limited;
      break;
    case Outcome::unauthenticated:
      ++unauthenticated;
      break;
    case Outcome::malformed:
      ++malformed;
      break;
    case Outcome::accepted:
      ++accepted;
      break;
  }
}

void SessionLog::record(const char* what, const boost::asio::ip::address& client, std::uint64_t session,
                        std::uint16_t source_port, std::uint16_t local_port, Outcome outcome, Clock::time_point now) {
  Key key{what, client.to_string(), session};
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    if (!opens_session(outcome)) {
      // Bytes nobody vouched for (a spoofed source, a forged session id) open nothing.
      if (unsessioned_.size() < 64 || unsessioned_.count(what)) unsessioned_[what].add(outcome);
      return;
    }
    if (sessions_.size() >= kMaxSessions) {
      ++untracked_;
      return;
    }
    it = sessions_.emplace(key, Entry{}).first;
    it->second.first = now;
  }
  Entry& e = it->second;
  e.last = now;
  bool kept = true;
  if (e.source_ports.size() < kMaxPortsKept || e.source_ports.count(source_port))
    e.source_ports.insert(source_port);
  else
    kept = false;
  if (e.local_ports.size() < kMaxPortsKept || e.local_ports.count(local_port))
    e.local_ports.insert(local_port);
  else
    kept = false;
  if (!kept) ++e.ports_not_kept;
  e.counts.add(outcome);
}

void SessionLog::log_line(const std::string& level, const std::string& line, Clock::time_point now) {
  if (now - interval_start_ >= idle_) {
    if (suppressed_ > 0)
      log_("warn", "session log: " + std::to_string(suppressed_) + " lines suppressed in the last interval");
    interval_start_ = now;
    lines_ = 0;
    suppressed_ = 0;
  }
  if (lines_ >= kMaxLinesPerInterval) {
    ++suppressed_;
    return;
  }
  ++lines_;
  log_(level, line);
}

void SessionLog::write(const Key& key, const Entry& e, Clock::time_point now) {
  const auto& [what, client, session] = key;
  const auto& c = e.counts;
  char id[24];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(session));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.last - e.first).count();
  std::string line = what + " session " + id + " from " + client + " source ports " + join_ranges(e.source_ports) +
                     " to ports " + join_ranges(e.local_ports);
  if (e.ports_not_kept > 0) line += " (and " + std::to_string(e.ports_not_kept) + " packets on further ports)";
  line += ": ";
  if (what == "tcp-connect")
    line += std::to_string(c.accepted) + " connections";
  else
    line += std::to_string(c.answered) + " answered, " + std::to_string(c.rate_limited) + " rate-limited, " +
            std::to_string(c.unauthenticated) + " unauthenticated, " + std::to_string(c.malformed) + " malformed";
  line += " over " + std::to_string(ms) + " ms";
  bool suspicious = c.unauthenticated + c.malformed > 0 && c.answered == 0;
  log_line(suspicious ? "warn" : "info", line, now);
}

void SessionLog::expire(Clock::time_point now, bool flush_all) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (flush_all || now - it->second.last >= idle_) {
      write(it->first, it->second, now);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  // Tallies of packets that opened no session: one line per service and interval.
  if (flush_all || now - tallied_at_ >= idle_) {
    tallied_at_ = now;
    for (const auto& [what, c] : unsessioned_)
      log_("warn", what + ": " + std::to_string(c.unauthenticated + c.malformed + c.rate_limited) +
                       " packets opened no session (" + std::to_string(c.unauthenticated) + " unauthenticated, " +
                       std::to_string(c.malformed) + " malformed, " + std::to_string(c.rate_limited) +
                       " rate-limited)");
    unsessioned_.clear();
  }
  if (untracked_ > 0 && (flush_all || sessions_.empty())) {
    log_("warn", "session log full: " + std::to_string(untracked_) + " packets from further sessions not logged");
    untracked_ = 0;
  }
  if (flush_all && suppressed_ > 0) {
    log_("warn", "session log: " + std::to_string(suppressed_) + " lines suppressed in the last interval");
    suppressed_ = 0;
  }
}

}  // namespace callready::respond
