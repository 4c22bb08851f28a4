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

}  // namespace

void SessionLog::record(const char* what, const boost::asio::ip::address& client, std::uint64_t session,
                        std::uint16_t source_port, std::uint16_t local_port, Outcome outcome, Clock::time_point now) {
  Key key{what, client.to_string(), session};
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    if (sessions_.size() >= kMaxSessions) {
      ++untracked_;
      return;
    }
    it = sessions_.emplace(key, Entry{}).first;
    it->second.first = now;
  }
  Entry& e = it->second;
  e.last = now;
  if (e.source_ports.size() < kMaxPortsKept) e.source_ports.insert(source_port);
  e.local_ports.insert(local_port);
  switch (outcome) {
    case Outcome::answered:
      ++e.answered;
      break;
    case Outcome::rate_limited:
      ++e.rate_limited;
      break;
    case Outcome::unauthenticated:
      ++e.unauthenticated;
      break;
    case Outcome::malformed:
      ++e.malformed;
      break;
    case Outcome::accepted:
      ++e.accepted;
      break;
  }
}

void SessionLog::write(const Key& key, const Entry& e) {
  const auto& [what, client, session] = key;
  char id[24];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(session));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.last - e.first).count();
  std::string line = what + " session " + id + " from " + client + " source ports " + join_ranges(e.source_ports) +
                     " to ports " + join_ranges(e.local_ports) + ": ";
  if (what == "tcp-connect")
    line += std::to_string(e.accepted) + " connections";
  else
    line += std::to_string(e.answered) + " answered, " + std::to_string(e.rate_limited) + " rate-limited, " +
            std::to_string(e.unauthenticated) + " unauthenticated, " + std::to_string(e.malformed) + " malformed";
  line += " over " + std::to_string(ms) + " ms";
  bool suspicious = e.unauthenticated + e.malformed > 0 && e.answered == 0;
  log_(suspicious ? "warn" : "info", line);
}

void SessionLog::expire(Clock::time_point now, bool flush_all) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (flush_all || now - it->second.last >= idle_) {
      write(it->first, it->second);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  if (untracked_ > 0 && (flush_all || sessions_.empty())) {
    log_("warn", "session log full: " + std::to_string(untracked_) + " packets from further sessions not logged");
    untracked_ = 0;
  }
}

}  // namespace callready::respond
