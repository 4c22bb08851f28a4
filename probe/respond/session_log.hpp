#pragma once
// One log line per session, not per packet: a session is one client source
// address + probe session id (or one client address for unauthenticated
// traffic and TCP connects). Lines are written when a session has been idle
// for `idle`, and for every open session at shutdown. Memory is bounded: past
// kMaxSessions new sessions are only counted.
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
  static constexpr std::size_t kMaxSessions = 4096;
  static constexpr std::size_t kMaxPortsKept = 65536;

  SessionLog(ResponderLog log, std::chrono::milliseconds idle) : log_(std::move(log)), idle_(idle) {}

  enum class Outcome { answered, rate_limited, unauthenticated, malformed, accepted };

  // `what` names the service ("udp-echo", "tcp-connect").
  void record(const char* what, const boost::asio::ip::address& client, std::uint64_t session,
              std::uint16_t source_port, std::uint16_t local_port, Outcome outcome, Clock::time_point now);
  // Writes and forgets sessions idle since `now - idle` (all with flush_all).
  void expire(Clock::time_point now, bool flush_all = false);

 private:
  struct Entry {
    std::set<std::uint16_t> source_ports, local_ports;
    std::uint64_t answered = 0, rate_limited = 0, unauthenticated = 0, malformed = 0, accepted = 0;
    Clock::time_point first, last;
  };
  using Key = std::tuple<std::string, std::string, std::uint64_t>;  // service, client, session
  void write(const Key& key, const Entry& e);

  ResponderLog log_;
  std::chrono::milliseconds idle_;
  std::map<Key, Entry> sessions_;
  std::uint64_t untracked_ = 0;
};

}  // namespace callready::respond
