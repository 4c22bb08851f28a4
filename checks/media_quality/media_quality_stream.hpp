#pragma once
// The paced media stream of media_quality on an echo socket: packet i leaves
// at start + i x the codec's interval (Clock and Timer only, so it runs in
// virtual time), replies are taken while waiting for the next departure (their
// arrival times are those of the receive), then three tail probes whose
// replies carry the responder's final record, then late replies for at
// least a second (three times the slowest round trip when that is longer).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>

#include "checks/common/echo_client.hpp"
#include "checks/media_quality/media_quality_check.hpp"

namespace callready::checks {

struct MediaStream {
  StreamLog log;
  bool responder_answered = false;  // any v3 reply carried the responder's record
  // The ICMP destination-unreachable that ended the stream early ("port
  // unreachable from 203.0.113.1"): nothing listens there, or a firewall
  // rejects it. Empty when none came.
  std::string icmp;
};

// The whole stream's time: its packets, the tail and the wait for late replies.
Millis media_stream_time(const MediaCodec& codec, int duration_s);

// Sends `duration_s` of `codec` to `to` on an open socket as session
// `session`, within `budget` (a stream cut short by it keeps what was sent).
boost::asio::awaitable<MediaStream> run_media_stream(EchoSocket& socket, boost::asio::ip::udp::endpoint to,
                                                     MediaCodec codec, int duration_s, std::uint64_t session,
                                                     Millis budget);

}  // namespace callready::checks
