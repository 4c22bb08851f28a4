// media_quality's paced stream in virtual time, against an in-process
// loopback peer that answers like the responder (echo v3, the responder's
// own StreamSessions record) and can lose requests on the way up or replies
// on the way back: departures exact to the millisecond, the tail probes, the
// wait for late replies, and every lost packet put on its direction.
#include <doctest/doctest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <optional>
#include <vector>

#include "checks/common/udp_echo_service.hpp"
#include "checks/media_quality/media_quality_stream.hpp"
#include "probe/clock.hpp"

using namespace callready;
using namespace callready::checks;
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

Millis since(const VirtualTime& vt) { return std::chrono::duration_cast<Millis>(vt.elapsed()); }

// Answers v3 requests as the responder does; `lose_up(seq)` drops a request
// before it is recorded, `lose_down(seq)` records it but drops the reply.
struct StreamPeer {
  udp::socket sock;
  StreamSessions sessions;
  std::vector<Millis> arrivals;
  std::function<bool(std::uint32_t)> lose_up = [](std::uint32_t) { return false; };
  std::function<bool(std::uint32_t)> lose_down = [](std::uint32_t) { return false; };
  bool silent = false;
  std::int64_t wall0 = static_cast<std::int64_t>(echo::now_us());
  Clock::time_point clock0 = Clock::now();

  explicit StreamPeer(asio::io_context& io) : sock(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  udp::endpoint endpoint() const { return sock.local_endpoint(); }
  std::uint64_t wall_now() const {
    return static_cast<std::uint64_t>(
        wall0 + std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - clock0).count());
  }

  asio::awaitable<void> serve(const VirtualTime& vt) {
    std::array<std::uint8_t, 2048> buf;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      arrivals.push_back(since(vt));
      echo::Request req;
      if (silent || echo::decode_request({buf.data(), n}, "", req) != echo::DecodeError::none) continue;
      if (lose_up(req.sequence)) continue;
      auto view = sessions.observe({from, req.session}, req.sequence, Clock::now());
      REQUIRE(view);
      if (lose_down(req.sequence)) continue;
      view->sent_us = wall_now();
      view->clock_known = view->clock_synchronised = true;
      echo::Observation seen{from, 0, wall_now(), static_cast<std::uint16_t>(n)};
      auto reply = echo::encode_reply(req, seen, "", {}, *view);
      co_await sock.async_send_to(asio::buffer(reply), from, asio::as_tuple(asio::use_awaitable));
    }
  }
};

struct Run {
  MediaStream stream;
  Millis done{0};
};

Run stream_against(StreamPeer& peer, asio::io_context& io, const VirtualTime& vt, const char* codec, int seconds) {
  EchoSocket socket(io.get_executor());
  REQUIRE_FALSE(socket.open(udp::v4(), {}));
  asio::co_spawn(io, peer.serve(vt), asio::detached);
  std::optional<Run> result;
  auto c = *media_codec(codec);
  asio::co_spawn(io, run_media_stream(socket, peer.endpoint(), c, seconds, 42, media_stream_time(c, seconds)),
                 [&](std::exception_ptr e, MediaStream s) {
                   REQUIRE_FALSE(e);
                   result = Run{std::move(s), since(vt)};
                   peer.sock.close();
                 });
  run_io(io);
  REQUIRE(result);
  return std::move(*result);
}

}  // namespace

TEST_CASE("a G.711 stream leaves every 20 ms exactly, then three tail probes, and ends once all came back") {
  VirtualTime vt;
  asio::io_context io;
  StreamPeer peer(io);
  auto run = stream_against(peer, io, vt, "g711", 2);
  REQUIRE(peer.arrivals.size() == 103);
  for (std::size_t i = 0; i < peer.arrivals.size(); ++i) CHECK(peer.arrivals[i] == Millis(20 * i));
  const auto& log = run.stream.log;
  CHECK(log.packets.size() == 100);
  CHECK(run.stream.responder_answered);
  CHECK(log.responder_received == 103);
  CHECK(log.tail_received == 3);
  CHECK(log.reply_order.size() == 100);
  // Every reply is in: no wait for late ones after the last tail probe.
  CHECK(run.done <= Millis(2041));
  auto r = analyse_stream(log, *media_codec("g711"));
  CHECK(r.upstream.loss_pct == 0);
  CHECK(r.downstream.loss_pct == 0);
  CHECK(r.replies == 100);
}

TEST_CASE("video paces 1,100-byte packets every 5,867 us") {
  VirtualTime vt;
  asio::io_context io;
  StreamPeer peer(io);
  auto run = stream_against(peer, io, vt, "video", 1);
  CHECK(run.stream.log.packets.size() == 1'000'000 / 5867);
  REQUIRE(peer.arrivals.size() >= 100);
  CHECK(peer.arrivals[100] == Millis(586));  // 100 x 5.867 ms, truncated to the millisecond
}

TEST_CASE("losses on each leg are attributed from the responder's record, not guessed") {
  VirtualTime vt;
  asio::io_context io;
  StreamPeer peer(io);
  peer.lose_up = [](std::uint32_t s) { return s < 100 && s % 20 == 19; };
  peer.lose_down = [](std::uint32_t s) { return s % 50 >= 45 && s < 100; };
  auto run = stream_against(peer, io, vt, "g711", 2);
  auto r = analyse_stream(run.stream.log, *media_codec("g711"));
  CHECK(r.upstream.sent == 100);
  CHECK(r.upstream.received == 95);
  CHECK(r.upstream.loss_pct == doctest::Approx(5.0));
  CHECK(r.upstream.bursts.max_burst == 1);
  // Down: 45-49 and 95-98 lost (99 was already lost upstream).
  CHECK(r.downstream.sent == 95);
  CHECK(r.downstream.received == 86);
  CHECK(r.downstream.bursts.max_burst == 5);
  for (std::uint32_t s : {19u, 39u, 99u})
    CHECK(run.stream.log.packets[s].reached_responder == std::optional<bool>(false));
  for (std::uint32_t s : {45u, 98u}) CHECK(run.stream.log.packets[s].reached_responder == std::optional<bool>(true));
  // Replies were missing: the stream waits a second for late ones after the last tail probe.
  CHECK(run.done >= Millis(2040 + 1000));
  CHECK(run.done <= Millis(2040 + 1001));
}

TEST_CASE("a silent far end: the stream still ends on schedule, with nothing answered") {
  VirtualTime vt;
  asio::io_context io;
  StreamPeer peer(io);
  peer.silent = true;
  auto run = stream_against(peer, io, vt, "g711", 1);
  CHECK(peer.arrivals.size() == 53);
  CHECK_FALSE(run.stream.responder_answered);
  CHECK(run.done >= Millis(1040 + 1000));
  CHECK(run.done <= Millis(1040 + 1001));
  auto r = analyse_stream(run.stream.log, *media_codec("g711"));
  CHECK(r.replies == 0);
  CHECK(r.upstream.loss_pct == 100);
}
