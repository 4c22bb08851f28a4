// The echo probe format (v1 and v2): round trips, authentication, no
// amplification, and rejection (never a crash) of malformed input.
#include "checks/common/echo_probe.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace callready::checks::echo;
namespace asio = boost::asio;

namespace {

Request sample_request() {
  Request r;
  r.session = 0x0102030405060708ULL;
  r.sequence = 0xA1B2C3D4;
  r.sent_us = 1'700'000'000'123'456ULL;
  r.size = 200;
  return r;
}

Observation sample_observation(const char* addr = "203.0.113.1", unsigned short port = 40000) {
  Observation o;
  o.source = asio::ip::udp::endpoint(asio::ip::make_address(addr), port);
  o.tos = 0xb8;
  o.received_us = 1'700'000'000'223'456ULL;
  o.request_size = 200;
  return o;
}

}  // namespace

TEST_CASE("a request encodes to the documented header and round-trips") {
  auto bytes = encode_request(sample_request(), "s3cret");
  REQUIRE(bytes.size() == 200);
  CHECK(bytes[0] == 'C');
  CHECK(bytes[3] == 'B');
  CHECK(bytes[4] == kVersion);
  CHECK(bytes[5] == 1);
  CHECK(bytes[7] == kKeyed);  // flags low byte: keyed, full reply
  CHECK(bytes[8] == 0x01);
  CHECK(bytes[15] == 0x08);
  CHECK(bytes[16] == 0xA1);
  Request got;
  REQUIRE(decode_request(bytes, "s3cret", got) == DecodeError::none);
  CHECK(got.session == 0x0102030405060708ULL);
  CHECK(got.sequence == 0xA1B2C3D4);
  CHECK(got.sent_us == 1'700'000'000'123'456ULL);
  CHECK(got.keyed);
  CHECK_FALSE(got.minimal_reply);
  CHECK(got.size == 200);
}

TEST_CASE("sizes are clamped so that a reply always fits in its request") {
  Request r = sample_request();
  r.size = 1;
  CHECK(encode_request(r, "").size() == kMinDatagram);
  r.size = 100000;
  CHECK(encode_request(r, "").size() == kMaxDatagram);
}

TEST_CASE("a token-protected decoder drops unkeyed, wrongly keyed and tampered requests") {
  Request got;
  auto unkeyed = encode_request(sample_request(), "");
  CHECK(decode_request(unkeyed, "s3cret", got) == DecodeError::unauthenticated);
  auto wrong = encode_request(sample_request(), "other");
  CHECK(decode_request(wrong, "s3cret", got) == DecodeError::bad_mac);
  auto good = encode_request(sample_request(), "s3cret");
  for (std::size_t i : {std::size_t(8), std::size_t(20), std::size_t(100), good.size() - 1}) {
    auto tampered = good;
    tampered[i] ^= 0x01;
    CHECK(decode_request(tampered, "s3cret", got) == DecodeError::bad_mac);
  }
  // Without a token the responder is open: any well-formed request is accepted.
  CHECK(decode_request(wrong, "", got) == DecodeError::none);
}

TEST_CASE("a reply carries the observation and is never larger than the request") {
  Request req;
  REQUIRE(decode_request(encode_request(sample_request(), "k"), "k", req) == DecodeError::none);
  auto reply_bytes = encode_reply(req, sample_observation(), "k");
  CHECK(reply_bytes.size() == 200);
  Reply reply;
  REQUIRE(decode_reply(reply_bytes, "k", reply) == DecodeError::none);
  CHECK(reply.session == req.session);
  CHECK(reply.sequence == req.sequence);
  CHECK(reply.sent_us == req.sent_us);
  CHECK(reply.seen.source.address().to_string() == "203.0.113.1");
  CHECK(reply.seen.source.port() == 40000);
  CHECK(reply.seen.tos == 0xb8);
  CHECK(reply.seen.received_us == 1'700'000'000'223'456ULL);
  CHECK(reply.seen.request_size == 200);
  CHECK(reply.keyed);

  req.minimal_reply = true;
  req.size = 1400;
  CHECK(encode_reply(req, sample_observation(), "k").size() == kMinDatagram);
}

TEST_CASE("IPv6 and v4-mapped observations") {
  Request req = sample_request();
  Reply reply;
  REQUIRE(decode_reply(encode_reply(req, sample_observation("2001:db8:1::2", 5004), ""), "", reply) ==
          DecodeError::none);
  CHECK(reply.seen.source.address().to_string() == "2001:db8:1::2");
  CHECK(reply.seen.source.port() == 5004);
  REQUIRE(decode_reply(encode_reply(req, sample_observation("::ffff:198.18.0.2", 1), ""), "", reply) ==
          DecodeError::none);
  CHECK(reply.seen.source.address().to_string() == "198.18.0.2");
}

TEST_CASE("reply authentication: keyed replies need the token, unkeyed ones integrity") {
  Request req = sample_request();
  Reply reply;
  auto keyed = encode_reply(req, sample_observation(), "k");
  CHECK(decode_reply(keyed, "", reply) == DecodeError::unauthenticated);
  CHECK(decode_reply(keyed, "other", reply) == DecodeError::bad_mac);
  auto unkeyed = encode_reply(req, sample_observation(), "");
  CHECK(decode_reply(unkeyed, "k", reply) == DecodeError::none);
  CHECK_FALSE(reply.keyed);
  unkeyed[40] ^= 0xff;
  CHECK(decode_reply(unkeyed, "k", reply) == DecodeError::bad_mac);
}

TEST_CASE("malformed datagrams are rejected with a reason") {
  Request req;
  Reply reply;
  auto good = encode_request(sample_request(), "");
  CHECK(decode_request(Bytes{}, "", req) == DecodeError::too_short);
  CHECK(decode_request(Bytes(good.data(), kMinDatagram - 1), "", req) == DecodeError::too_short);
  auto bad = good;
  bad[0] = 'X';
  CHECK(decode_request(bad, "", req) == DecodeError::bad_magic);
  // (3 is the media stream version, tests/unit/media_quality_codec_test.cpp)
  for (std::uint8_t version : {0, 4, 255}) {
    bad = good;
    bad[4] = version;
    CHECK(decode_request(bad, "", req) == DecodeError::bad_version);
  }
  // A request is not a reply and vice versa: two responders cannot ping-pong.
  CHECK(decode_reply(good, "", reply) == DecodeError::wrong_kind);
  auto r = encode_reply(sample_request(), sample_observation(), "");
  CHECK(decode_request(r, "", req) == DecodeError::wrong_kind);
  std::vector<std::uint8_t> huge(kMaxDatagram + 1, 0);
  CHECK(decode_request(huge, "", req) == DecodeError::too_long);
}

TEST_CASE("random bytes and truncations never crash the decoders") {
  std::mt19937 rng(42);
  Request req;
  Reply reply;
  auto good_req = encode_request(sample_request(), "k");
  auto good_reply = encode_reply(sample_request(), sample_observation(), "k");
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::uint8_t> junk(rng() % 400);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (i % 3 == 0 && junk.size() >= 6) std::copy(good_req.begin(), good_req.begin() + 6, junk.begin());
    accepted += decode_request(junk, "k", req) == DecodeError::none;
    accepted += decode_reply(junk, "k", reply) == DecodeError::none;
    accepted += decode_request(junk, "", req) == DecodeError::none;  // open mode still checks the header
  }
  for (std::size_t n = 0; n < good_reply.size(); ++n) {
    decode_reply(Bytes(good_reply.data(), n), "k", reply);
    decode_request(Bytes(good_req.data(), std::min(n, good_req.size())), "k", req);
  }
  // Random junk with a valid magic/version/kind in open mode is a "request"; keyed or reply never.
  CHECK(accepted <= 5000 / 3 + 1);
  std::vector<std::uint8_t> bad_family = good_reply;
  bad_family[kHeaderSize] = 5;
  Reply r2;
  CHECK(decode_reply(bad_family, "k", r2) != DecodeError::none);
}

// ---- version 2: reply_tos and reply_delay_ms ----

TEST_CASE("a request without v2 fields is still version 1, byte for byte") {
  auto bytes = encode_request(sample_request(), "k");
  CHECK(bytes[4] == 1);
  for (std::size_t i = kHeaderSize; i < kHeaderSize + 8; ++i) CHECK(bytes[i] == 0);
  Request got;
  REQUIRE(decode_request(bytes, "k", got) == DecodeError::none);
  CHECK(got.version == 1);
  CHECK_FALSE(got.reply_tos);
  CHECK_FALSE(got.reply_delay_ms);
}

TEST_CASE("v2 request vector: flags, reply_tos and reply_delay_ms at their offsets") {
  Request r = sample_request();
  r.reply_tos = 0xb8;  // EF
  r.reply_delay_ms = 0x00012345;
  auto bytes = encode_request(r, "s3cret");
  REQUIRE(bytes.size() == 200);
  CHECK(bytes[4] == kVersion2);
  CHECK(bytes[5] == 1);
  CHECK(bytes[6] == 0x00);
  CHECK(bytes[7] == (kKeyed | kReplyTos | kReplyDelay));  // 0x0e
  CHECK(bytes[28] == 0xb8);
  CHECK(bytes[29] == 0);
  CHECK(bytes[30] == 0);
  CHECK(bytes[31] == 0);
  CHECK(bytes[32] == 0x00);
  CHECK(bytes[33] == 0x01);
  CHECK(bytes[34] == 0x23);
  CHECK(bytes[35] == 0x45);
  Request got;
  REQUIRE(decode_request(bytes, "s3cret", got) == DecodeError::none);
  CHECK(got.version == kVersion2);
  REQUIRE(got.reply_tos);
  CHECK(*got.reply_tos == 0xb8);
  REQUIRE(got.reply_delay_ms);
  CHECK(*got.reply_delay_ms == 0x12345);
  CHECK(got.session == r.session);
  CHECK(got.size == 200);
}

TEST_CASE("v2 fields travel alone: reply_tos 0 is a request, not an absence") {
  Request r = sample_request();
  r.reply_tos = 0;
  Request got;
  auto bytes = encode_request(r, "");
  CHECK(bytes[4] == kVersion2);
  CHECK(bytes[7] == kReplyTos);
  REQUIRE(decode_request(bytes, "", got) == DecodeError::none);
  REQUIRE(got.reply_tos);
  CHECK(*got.reply_tos == 0);
  CHECK_FALSE(got.reply_delay_ms);

  r = sample_request();
  r.reply_delay_ms = 1500;
  bytes = encode_request(r, "");
  CHECK(bytes[7] == kReplyDelay);
  REQUIRE(decode_request(bytes, "", got) == DecodeError::none);
  CHECK_FALSE(got.reply_tos);
  REQUIRE(got.reply_delay_ms);
  CHECK(*got.reply_delay_ms == 1500);
}

TEST_CASE("reply_delay_ms is bounded: the encoder clamps, the decoder rejects a forged larger value") {
  Request r = sample_request();
  r.reply_delay_ms = kMaxReplyDelayMs + 1;
  auto bytes = encode_request(r, "");
  Request got;
  REQUIRE(decode_request(bytes, "", got) == DecodeError::none);
  CHECK(*got.reply_delay_ms == kMaxReplyDelayMs);
  // A forged request (unkeyed, open responder) asking for more than the maximum.
  bytes[32] = 0xff;
  bytes[33] = 0xff;
  bytes[34] = 0xff;
  bytes[35] = 0xff;
  CHECK(decode_request(bytes, "", got) == DecodeError::bad_field);
  // Keyed: rewriting the delay breaks the mac before it is even read.
  auto keyed = encode_request(r, "k");
  keyed[35] ^= 0x01;
  CHECK(decode_request(keyed, "k", got) == DecodeError::bad_mac);
}

TEST_CASE("a v1 request ignores what would be v2 options: flags without the version do nothing") {
  Request r = sample_request();
  auto bytes = encode_request(r, "");
  bytes[7] |= kReplyTos | kReplyDelay;  // v1 with v2 flags set (unauthenticated, open mode)
  bytes[28] = 0xb8;
  bytes[35] = 0x10;
  // An open decoder does not check the mac, so this reaches the field parsing.
  Request got;
  REQUIRE(decode_request(bytes, "", got) == DecodeError::none);
  CHECK(got.version == 1);
  CHECK_FALSE(got.reply_tos);
  CHECK_FALSE(got.reply_delay_ms);
}

TEST_CASE("v2 reply vector: the version follows the request, flags say what was honoured") {
  Request r = sample_request();
  r.reply_tos = 0x88;
  r.reply_delay_ms = 30000;
  Request req;
  REQUIRE(decode_request(encode_request(r, "k"), "k", req) == DecodeError::none);
  ReplyMarks marks;
  marks.reply_tos = 0x88;
  marks.delayed = true;
  marks.tcp = true;
  auto bytes = encode_reply(req, sample_observation(), "k", marks);
  REQUIRE(bytes.size() == 200);
  CHECK(bytes[4] == kVersion2);
  CHECK(bytes[5] == 2);
  CHECK(bytes[7] == (kKeyed | kReplyTos | kReplyDelay));
  CHECK(bytes[kHeaderSize + 1] == 0xb8);   // the TOS the request arrived with
  CHECK(bytes[kHeaderSize + 30] == 0x88);  // the TOS the reply was sent with
  CHECK(bytes[kHeaderSize + 31] == 1);     // over TCP
  Reply reply;
  REQUIRE(decode_reply(bytes, "k", reply) == DecodeError::none);
  CHECK(reply.version == kVersion2);
  REQUIRE(reply.marks.reply_tos);
  CHECK(*reply.marks.reply_tos == 0x88);
  CHECK(reply.marks.delayed);
  CHECK(reply.marks.tcp);
  CHECK(reply.seen.tos == 0xb8);

  SUBCASE("a refused deferral: answered at once, the flag says so") {
    ReplyMarks at_once;
    at_once.reply_tos = 0x88;
    REQUIRE(decode_reply(encode_reply(req, sample_observation(), "k", at_once), "k", reply) == DecodeError::none);
    CHECK_FALSE(reply.marks.delayed);
    CHECK(reply.marks.reply_tos);
    CHECK_FALSE(reply.marks.tcp);
  }
  SUBCASE("a v1 request gets a v1 reply: marks are not written") {
    Request v1;
    REQUIRE(decode_request(encode_request(sample_request(), "k"), "k", v1) == DecodeError::none);
    auto old = encode_reply(v1, sample_observation(), "k", marks);
    CHECK(old[4] == 1);
    CHECK(old[7] == kKeyed);
    CHECK(old[kHeaderSize + 30] == 0);
    CHECK(old[kHeaderSize + 31] == 0);
    REQUIRE(decode_reply(old, "k", reply) == DecodeError::none);
    CHECK(reply.version == 1);
    CHECK_FALSE(reply.marks.reply_tos);
    CHECK_FALSE(reply.marks.delayed);
  }
  SUBCASE("forged reply marks do not verify") {
    auto forged = bytes;
    forged[kHeaderSize + 30] = 0x00;
    CHECK(decode_reply(forged, "k", reply) == DecodeError::bad_mac);
  }
}

TEST_CASE("a v2 reply stays within the request's size, minimal or not") {
  Request r = sample_request();
  r.reply_tos = 0xb8;
  r.size = kMinDatagram;
  Request req;
  REQUIRE(decode_request(encode_request(r, ""), "", req) == DecodeError::none);
  CHECK(encode_reply(req, sample_observation(), "", {}).size() == kMinDatagram);
  r.size = 1400;
  r.minimal_reply = true;
  REQUIRE(decode_request(encode_request(r, ""), "", req) == DecodeError::none);
  CHECK(encode_reply(req, sample_observation(), "", {}).size() == kMinDatagram);
}

TEST_CASE("truncated v2 datagrams are rejected, never read past their end") {
  Request r = sample_request();
  r.reply_tos = 0xb8;
  r.reply_delay_ms = 10;
  r.size = kMinDatagram;
  auto req_bytes = encode_request(r, "k");
  Request req;
  REQUIRE(decode_request(req_bytes, "k", req) == DecodeError::none);
  auto reply_bytes = encode_reply(req, sample_observation(), "k", {0xb8, true, false});
  Reply reply;
  for (std::size_t n = 0; n < kMinDatagram; ++n) {
    CHECK(decode_request(Bytes(req_bytes.data(), n), "k", req) == DecodeError::too_short);
    CHECK(decode_reply(Bytes(reply_bytes.data(), n), "k", reply) == DecodeError::too_short);
  }
}
