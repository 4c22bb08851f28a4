#pragma once
// One log line per session, not per packet: a session is one client source
// address + probe session id (or one client address for unauthenticated
// traffic and TCP connects). Lines are written when a session has been idle
// for `idle`, and for every open session at shutdown.
//
// Bounded under junk from spoofed sources:
//  - only packets that were answered or accepted (authenticated when the
//    responder has a token) open a session; unauthenticated, malformed and
//    rate-limited packets only add to a session that is already open, or
//    else to one tally per service, written as one line;
//  - at most kMaxSessions sessions, each keeping at most kMaxPortsKept
//    source and local ports (the rest are counted);
//  - at most kMaxLinesPerInterval session lines per `idle` interval; the rest
//    are summed up as "N lines suppressed".
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "probe/respond/service.hpp"

namespace callready::respond {

class SessionLog {
 public:
  using Clock = callready::Clock;
  static constexpr std::size_t kMaxSessions = 1024;
  static constexpr std::size_t kMaxPortsKept = 64;
  static constexpr std::size_t kMaxLinesPerInterval = 50;

  SessionLog(ResponderLog log, std::chrono::milliseconds idle) : log_(std::move(log)), idle_(idle) {}

  enum class Outcome { answered, rate_limited, unauthenticated, malformed, accepted };

  // `what` names the service ("udp-echo", "tcp-connect").
  void record(const char* what, const boost::asio::ip::address& client, std::uint64_t session,
              std::uint16_t source_port, std::uint16_t local_port, Outcome outcome, Clock::time_point now);
  // Writes and forgets sessions idle since `now - idle` (all with flush_all).
  void expire(Clock::time_point now, bool flush_all = false);

  std::size_t sessions() const { return sessions_.size(); }

 private:
  struct Counts {
    std::uint64_t answered = 0, rate_limited = 0, unauthenticated = 0, malformed = 0, accepted = 0;
    void add(Outcome o);
  };
  struct Entry {
    std::set<std::uint16_t> source_ports, local_ports;
    std::uint64_t ports_not_kept = 0;
    Counts counts;
    Clock::time_point first, last;
  };
  using Key = std::tuple<std::string, std::string, std::uint64_t>;  // service, client, session
  void write(const Key& key, const Entry& e, Clock::time_point now);
  void log_line(const std::string& level, const std::string& line, Clock::time_point now);

  ResponderLog log_;
  std::chrono::milliseconds idle_;
  std::map<Key, Entry> sessions_;
  std::map<std::string, Counts> unsessioned_;  // per service: packets that opened no session
  Clock::time_point tallied_at_{};             // when unsessioned_ was last written
  std::uint64_t untracked_ = 0;                // answered packets past kMaxSessions
  // The line budget of the current interval.
  Clock::time_point interval_start_{};
  std::size_t lines_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace callready::respond
