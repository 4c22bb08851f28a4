#pragma once
// The client addresses the control port opened an echo session for.
//
// With a token, the UDP echo answers a keyed probe only from an address whose
// session is open: a hello that proved the token opens (or renews) one for
// the hello's source address, for a lifetime the client may shorten
// ("session_s" in the hello). A captured keyed probe replayed from another
// source (spoofed towards a victim, whose address never said hello) or after
// the lifetime finds no session and is dropped before its mac is even
// checked. Without a token nothing is kept and nothing is asked: the open
// responder answers every source, as its start-up warning says.
//
// Bounded: only token holders add entries, and at most kMaxSessions; when
// full, the session that ends soonest makes room.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <unordered_map>

#include "probe/clock.hpp"

namespace callready::respond {

class ControlSessions {
 public:
  static constexpr std::size_t kMaxSessions = 4096;
  // A scan lasts at most an hour (--timeout and a check's timeout_ms are at
  // most 3600 s) plus the engine's grace; the session outlives it a little.
  static constexpr std::chrono::seconds kMaxLifetime{3900};

  // Opens or renews the session of `client` until at least now + lifetime
  // (clamped to [1 s, kMaxLifetime]); returns the lifetime granted.
  std::chrono::seconds open(const boost::asio::ip::address& client, std::chrono::seconds lifetime,
                            Clock::time_point now);
  bool is_open(const boost::asio::ip::address& client, Clock::time_point now) const;
  // Forgets the sessions that have ended (the responder's once-a-second sweep).
  void expire(Clock::time_point now);
  std::size_t size() const { return ends_.size(); }

 private:
  struct AddressHash {
    std::size_t operator()(const boost::asio::ip::address& a) const;
  };
  std::unordered_map<boost::asio::ip::address, Clock::time_point, AddressHash> ends_;
};

// An IPv4-mapped IPv6 address as the IPv4 address it maps (a dual-stack
// control socket sees IPv4 clients that way; the UDP echo's IPv4 sockets do not).
boost::asio::ip::address plain_address(const boost::asio::ip::address& a);

}  // namespace callready::respond
