// Echo v3 (the media stream probe): the stream view round-trips, v1/v2 stay
// as they were, forged and malformed datagrams are rejected (a fuzz-shaped
// pass over random mutations never crashes and never accepts a tampered
// keyed datagram), and the responder's per-session record is exact, bounded
// and expires.
#include <doctest/doctest.h>

#include <random>

#include "checks/common/echo_probe.hpp"
#include "checks/common/udp_echo_service.hpp"

using namespace callready;
using namespace callready::checks;
using namespace callready::checks::echo;
namespace asio = boost::asio;

namespace {

Request stream_request(std::uint32_t sequence = 7) {
  Request r;
  r.session = 0x1122334455667788ULL;
  r.sequence = sequence;
  r.sent_us = 1'700'000'000'000'000ULL;
  r.size = 172;
  r.stream = true;
  r.reply_tos = 0xb8;
  return r;
}

Observation observed() {
  Observation o;
  o.source = asio::ip::udp::endpoint(asio::ip::make_address("198.51.100.7"), 8512);
  o.tos = 0xb8;
  o.received_us = 1'700'000'000'010'000ULL;
  o.request_size = 172;
  return o;
}

// As the responder holds it: decoded, with its version.
Request decoded(const Request& r) {
  Request out;
  REQUIRE(decode_request(encode_request(r, ""), "", out) == DecodeError::none);
  return out;
}

StreamView sample_view() {
  StreamView v;
  v.sent_us = 1'700'000'000'010'250ULL;
  v.received = 41;
  v.duplicates = 2;
  v.highest = 44;
  v.bitmap = 0x8000000000000005ULL;
  v.clock_known = true;
  v.clock_synchronised = true;
  v.clock_error_ms = 3;
  return v;
}

}  // namespace

TEST_CASE("a v3 request carries version 3 and the v2 options and is never minimal") {
  auto r = stream_request();
  r.minimal_reply = true;
  auto bytes = encode_request(r, "k");
  REQUIRE(bytes.size() == 172);
  CHECK(bytes[4] == kVersion3);
  CHECK((bytes[7] & kMinimalReply) == 0);
  CHECK(bytes[kHeaderSize] == 0xb8);
  Request got;
  REQUIRE(decode_request(bytes, "k", got) == DecodeError::none);
  CHECK(got.stream);
  CHECK(got.version == kVersion3);
  CHECK(got.reply_tos == std::optional<std::uint8_t>(0xb8));
  CHECK(got.sequence == 7);
}

TEST_CASE("a v3 request is at least kMinStreamDatagram bytes") {
  auto r = stream_request();
  r.size = 100;
  CHECK(encode_request(r, "").size() == kMinStreamDatagram);
  CHECK(kMinStreamDatagram == 124);
  // A v3 datagram cut below the minimum (with a valid mac) is too short.
  auto bytes = encode_request(r, "");
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + 100);
  Request got;
  CHECK(decode_request(cut, "", got) == DecodeError::too_short);
}

TEST_CASE("a v3 reply carries the stream view at the documented offsets and round-trips") {
  auto req = decoded(stream_request());
  auto bytes = encode_reply(req, observed(), "k", {0xb8, false, false}, sample_view());
  REQUIRE(bytes.size() == 172);
  CHECK(bytes[4] == kVersion3);
  const std::uint8_t* s = bytes.data() + kHeaderSize + kObservationSize;
  CHECK(s[7] == 0x0a);   // sent_us low byte (0x60a24181e680a)
  CHECK(s[11] == 41);    // received
  CHECK(s[15] == 2);     // duplicates
  CHECK(s[19] == 44);    // highest
  CHECK(s[20] == 0x80);  // bitmap high byte
  CHECK(s[27] == 0x05);
  CHECK(s[28] == 3);  // known | synchronised
  CHECK(s[31] == 3);
  Reply got;
  REQUIRE(decode_reply(bytes, "k", got) == DecodeError::none);
  REQUIRE(got.stream);
  CHECK(got.stream->sent_us == sample_view().sent_us);
  CHECK(got.stream->received == 41);
  CHECK(got.stream->duplicates == 2);
  CHECK(got.stream->highest == 44);
  CHECK(got.stream->bitmap == 0x8000000000000005ULL);
  CHECK(got.stream->clock_synchronised);
  CHECK(got.stream->clock_error_ms == 3);
  CHECK(got.marks.reply_tos == std::optional<std::uint8_t>(0xb8));
  CHECK(got.seen.received_us == observed().received_us);
}

TEST_CASE("the stream view tells received, lost and unknown sequences apart") {
  auto v = sample_view();  // highest 44, bits 0 and 2 and 63: 43, 41, 44-64=-20 (n/a)
  CHECK(v.covers(44) == std::optional<bool>(true));
  CHECK(v.covers(43) == std::optional<bool>(true));
  CHECK(v.covers(42) == std::optional<bool>(false));
  CHECK(v.covers(41) == std::optional<bool>(true));
  CHECK(v.covers(45) == std::nullopt);
  v.highest = 100;
  CHECK(v.covers(36) == std::optional<bool>(true));  // bit 63
  CHECK(v.covers(35) == std::nullopt);               // outside the window
  StreamView empty;
  CHECK(empty.covers(0) == std::nullopt);
}

TEST_CASE("v1 and v2 requests and replies are unchanged by v3") {
  Request r;
  r.session = 1;
  r.size = 200;
  auto v1 = encode_request(r, "");
  CHECK(v1[4] == kVersion);
  Request got;
  REQUIRE(decode_request(v1, "", got) == DecodeError::none);
  CHECK_FALSE(got.stream);
  auto reply = encode_reply(got, observed(), "", {}, sample_view());
  CHECK(reply[4] == kVersion);
  Reply rep;
  REQUIRE(decode_reply(reply, "", rep) == DecodeError::none);
  CHECK_FALSE(rep.stream);
  r.reply_tos = 0;
  auto v2 = encode_request(r, "");
  CHECK(v2[4] == kVersion2);
  REQUIRE(decode_request(v2, "", got) == DecodeError::none);
  reply = encode_reply(got, observed(), "", {}, sample_view());
  REQUIRE(decode_reply(reply, "", rep) == DecodeError::none);
  CHECK(rep.version == kVersion2);
  CHECK_FALSE(rep.stream);
}

TEST_CASE("forged v3 datagrams are rejected") {
  auto bytes = encode_request(stream_request(), "k");
  Request got;
  CHECK(decode_request(bytes, "other", got) == DecodeError::bad_mac);
  auto unkeyed = encode_request(stream_request(), "");
  CHECK(decode_request(unkeyed, "k", got) == DecodeError::unauthenticated);
  // A forged counter in a keyed reply: the mac no longer verifies.
  auto reply = encode_reply(decoded(stream_request()), observed(), "k", {}, sample_view());
  reply[kHeaderSize + kObservationSize + 11] ^= 0x10;
  Reply rep;
  CHECK(decode_reply(reply, "k", rep) == DecodeError::bad_mac);
  // An unkeyed reply changed on the way (its integrity mac) is rejected too.
  auto open_reply = encode_reply(decoded(stream_request()), observed(), "", {}, sample_view());
  open_reply[kHeaderSize + kObservationSize + 28] |= 0x80;
  CHECK(decode_reply(open_reply, "", rep) == DecodeError::bad_mac);
  // A minimal-reply flag on a v3 request (an open responder does not check
  // the mac): refused, a stream reply is as long as its request.
  auto minimal = encode_request(stream_request(), "");
  minimal[7] |= kMinimalReply;
  CHECK(decode_request(minimal, "", got) == DecodeError::bad_field);
}

TEST_CASE("fuzz: mutated v3 datagrams never crash and keyed ones never verify") {
  std::mt19937 rng(12);
  auto request = encode_request(stream_request(), "k");
  auto reply = encode_reply(decoded(stream_request()), observed(), "k", {}, sample_view());
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto base = (i % 2) ? request : reply;
    std::uniform_int_distribution<int> how(0, 3);
    switch (how(rng)) {
      case 0:  // flip 1-4 random bits
        for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k) base[rng() % base.size()] ^= 1u << (rng() % 8);
        break;
      case 1:  // truncate
        base.resize(rng() % base.size());
        break;
      case 2:  // extend with garbage
        for (int k = 0, n = 1 + static_cast<int>(rng() % 64); k < n; ++k)
          base.push_back(static_cast<std::uint8_t>(rng()));
        break;
      default:  // random bytes of random length behind a valid-looking header
        for (std::size_t k = 8; k < base.size(); ++k) base[k] = static_cast<std::uint8_t>(rng());
        break;
    }
    Request rq;
    Reply rp;
    if (decode_request(base, "k", rq) == DecodeError::none) ++accepted;
    if (decode_reply(base, "k", rp) == DecodeError::none) ++accepted;
    (void)decode_request(base, "", rq);  // open responder: no mac check, must still not crash
  }
  CHECK(accepted == 0);
}

TEST_CASE("the responder's stream record counts, marks and detects duplicates exactly") {
  StreamSessions sessions;
  StreamSessions::Key key{asio::ip::udp::endpoint(asio::ip::make_address("198.51.100.7"), 8512), 9};
  auto t = Clock::time_point{};
  for (std::uint32_t s : {0u, 1u, 2u, 4u, 5u}) REQUIRE(sessions.observe(key, s, t));  // 3 lost
  auto v = sessions.observe(key, 7, t);                                               // 6 lost
  REQUIRE(v);
  CHECK(v->received == 6);
  CHECK(v->highest == 7);
  CHECK(v->covers(6) == std::optional<bool>(false));
  CHECK(v->covers(3) == std::optional<bool>(false));
  CHECK(v->covers(4) == std::optional<bool>(true));
  CHECK(v->covers(0) == std::optional<bool>(true));
  v = sessions.observe(key, 3, t);  // late: reordered
  CHECK(v->received == 7);
  CHECK(v->covers(3) == std::optional<bool>(true));
  v = sessions.observe(key, 3, t);  // again: a duplicate
  CHECK(v->duplicates == 1);
  v = sessions.observe(key, 7, t);
  CHECK(v->duplicates == 2);
  CHECK(v->received == 7);
  v = sessions.observe(key, 7 + 64, t);  // a jump of exactly the window
  CHECK(v->covers(7) == std::optional<bool>(true));
  CHECK(v->covers(8) == std::optional<bool>(false));
  v = sessions.observe(key, 1000, t);  // beyond the window: nothing carried over
  CHECK(v->bitmap == 0);
  CHECK(v->received == 9);
}

TEST_CASE("stream records are bounded per source and in all, and expire when idle") {
  StreamSessions sessions;
  auto t = Clock::time_point{};
  auto source = asio::ip::udp::endpoint(asio::ip::make_address("198.51.100.7"), 8512);
  for (std::uint64_t s = 0; s < StreamSessions::kPerSource; ++s) REQUIRE(sessions.observe({source, s}, 0, t));
  CHECK_FALSE(sessions.observe({source, 100000}, 0, t));
  // Another source is not starved by the first.
  auto other = asio::ip::udp::endpoint(asio::ip::make_address("198.51.100.8"), 8512);
  CHECK(sessions.observe({other, 1}, 0, t));
  // Past the idle time, the old records make room again.
  auto later = t + StreamSessions::kIdle;
  CHECK(sessions.observe({source, 100000}, 0, later));
  CHECK(sessions.size() == 1);
  // The global bound, from many sources.
  StreamSessions many;
  std::size_t admitted = 0;
  for (std::uint32_t i = 0; i < StreamSessions::kGlobal + 10; ++i) {
    auto a = asio::ip::make_address_v4(0xC6120000u + i);  // 198.18.0.0/15
    if (many.observe({asio::ip::udp::endpoint(a, 9), 1}, 0, t)) ++admitted;
  }
  CHECK(admitted == StreamSessions::kGlobal);
  CHECK(many.size() == StreamSessions::kGlobal);
}
