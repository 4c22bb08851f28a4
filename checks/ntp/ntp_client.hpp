#pragma once
// The SNTP client's exchange (RFC 5905 client mode): a few requests spaced
// like ntpd's iburst, each with its own random nonce, over one connected UDP
// socket (the kernel drops datagrams from any other source, so a reply from
// another address is never taken). Waits run on callready::Timer, so tests
// run the schedule in virtual time; the four NTP timestamps come from a wall
// clock the caller may replace. It measures and decides nothing.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/echo_client.hpp"
#include "checks/ntp/ntp_codec.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"
#include "probe/net/errors.hpp"

namespace callready::checks::ntp {

using Endpoint = boost::asio::ip::udp::endpoint;

// Requests at 0, 2, 4, 6 s (ntpd's iburst spacing: servers that rate-limit
// with ntpd's `discard minimum` or chrony's `ratelimit` defaults accept it).
// Silence is called after `silence` without a single reply (the second
// request has had 500 ms), so a dropped port costs 2.5 s, not the schedule.
// After the last request, stragglers get `last_wait`. A kiss-o'-death stops
// the sending at once (RFC 5905 §7.4: the client must back off).
struct Schedule {
  int samples = 4;
  Millis spacing{2000};
  Millis silence{2500};
  Millis last_wait{1000};
  Millis budget{15000};  // caps everything (the check's deadline)
};

// Now, as an NTP timestamp, from the system's real-time clock.
Timestamp system_now();
using WallClock = std::function<Timestamp()>;

struct Reply {
  int request = 0;  // which request it answers (0-based)
  Packet packet;    // as received
  ReplyKind kind = ReplyKind::sample;
  Sample sample;     // offset and delay (meaningful for kind == sample)
  Millis arrived{};  // from the first send
};

struct Exchange {
  Endpoint local;               // the socket's local address
  std::vector<Millis> sent_at;  // each request's send time, from the first send
  std::vector<Reply> replies;   // valid replies in arrival order (one per request at most)
  int rejected_replies = 0;     // datagrams that were not a valid reply to one of our requests
  std::string rejected_reason;  // the last one's reason
  Clock::duration elapsed{};    // from the first send to the end
  int sent() const { return static_cast<int>(sent_at.size()); }
  bool answered() const { return !replies.empty(); }

  // When it ended on an error: the step (connect: the route lookup; send;
  // receive), the socket error as classified, and what happened; for an
  // ICMP error, the error itself (port unreachable from the server: a closed
  // port; from another address: a REJECT on the path).
  Operation failed = Operation::none;
  std::optional<net::NetFailure> failure;
  std::string error;
  std::optional<IcmpError> icmp;
};

// Connects `sock` (open, not yet connected) to `server` and runs the schedule.
boost::asio::awaitable<Exchange> sntp_exchange(boost::asio::ip::udp::socket& sock, Endpoint server, Schedule plan,
                                               WallClock wall);

// The reply a client keeps: the sample with the lowest delay (RFC 5905
// §10's clock filter: the least-delayed sample has the least error).
const Reply* best_sample(const Exchange& ex);

}  // namespace callready::checks::ntp
