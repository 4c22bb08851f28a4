// The SIP codec: parse/serialize round trips, RFC 3261 folding and compact
// forms, framing on streams, and malformed input that must be rejected.
#include "checks/sip_alg/sip_codec.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace callready::checks::sip;

namespace {
const std::string kInvite =
    "INVITE sip:mirror@203.0.113.10:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKabc;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"probe\" <sip:probe@198.18.0.2>;tag=123\r\n"
    "To: <sip:mirror@203.0.113.10>\r\n"
    "Call-ID: xyz@198.18.0.2\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:probe@198.18.0.2:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 57\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1 1 IN IP4 198.18.0.2\r\n"
    "c=IN IP4 198.18.0.2\r\n"
    "m=audio 20000 RTP/AVP 0\r\n";
}  // namespace

TEST_CASE("a request parses into start line, headers and body") {
  // Fix up the Content-Length to the real body size first.
  auto body_at = kInvite.find("\r\n\r\n") + 4;
  std::string text = kInvite;
  auto body_size = text.size() - body_at;
  text.replace(text.find("Content-Length: 57"), 18, "Content-Length: " + std::to_string(body_size));
  auto r = parse(text, true);
  REQUIRE(r.status == ParseStatus::ok);
  CHECK(r.message.is_request);
  CHECK(r.message.method == "INVITE");
  CHECK(r.message.uri == "sip:mirror@203.0.113.10:5060");
  CHECK(*r.message.header("via") == "SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKabc;rport");
  CHECK(*r.message.header("call-id") == "xyz@198.18.0.2");
  CHECK(r.message.header("Subject") == nullptr);
  CHECK(r.message.body.substr(0, 5) == "v=0\r\n");
  CHECK(r.consumed == text.size());

  auto sdp = parse_sdp(r.message.body);
  REQUIRE(sdp);
  REQUIRE(sdp->size() == 4);
  CHECK((*sdp)[1].type == 'o');
  CHECK((*sdp)[2].value == "IN IP4 198.18.0.2");

  // serialize -> parse gives the same message back
  auto again = parse(serialize(r.message), true);
  REQUIRE(again.status == ParseStatus::ok);
  CHECK(serialize(again.message) == serialize(r.message));
  CHECK(serialize(r.message) == text);
}

TEST_CASE("a response parses, and its reason phrase may hold spaces or be empty") {
  auto r =
      parse("SIP/2.0 488 Not Acceptable Here\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n", true);
  REQUIRE(r.status == ParseStatus::ok);
  CHECK_FALSE(r.message.is_request);
  CHECK(r.message.status == 488);
  CHECK(r.message.reason == "Not Acceptable Here");
  auto e = parse("SIP/2.0 200\r\nContent-Length: 0\r\n\r\n", true);
  REQUIRE(e.status == ParseStatus::ok);
  CHECK(e.message.reason.empty());
}

TEST_CASE("folded header lines are joined and compact forms resolve") {
  auto r = parse(
      "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4\r\n ;branch=z9hG4bK9\r\nSubject: I know you're\r\n\tthere,\r\n"
      "      pick up\r\nl: 0\r\n\r\n",
      true);
  REQUIRE(r.status == ParseStatus::ok);
  CHECK(*r.message.header("Via") == "SIP/2.0/UDP 1.2.3.4 ;branch=z9hG4bK9");
  CHECK(*r.message.header("Subject") == "I know you're there, pick up");
  CHECK(*r.message.header("Content-Length") == "0");
  CHECK(canonical_name("m") == "Contact");
  CHECK(canonical_name("CALL-ID") == "Call-ID");
  CHECK(canonical_name("X-Foo") == "X-Foo");
}

TEST_CASE("stream framing: incomplete until Content-Length bytes are there") {
  std::string msg = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 4\r\n\r\nabcd";
  CHECK(parse(msg.substr(0, 20), false).status == ParseStatus::incomplete);
  CHECK(parse(msg.substr(0, msg.size() - 1), false).status == ParseStatus::incomplete);
  auto two = parse(msg + msg, false);
  REQUIRE(two.status == ParseStatus::ok);
  CHECK(two.consumed == msg.size());
  CHECK(two.message.body == "abcd");
  // no Content-Length on a stream is an error, on a datagram the body is the rest
  CHECK(parse("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\nxy", false).status == ParseStatus::invalid);
  auto dg = parse("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\nxy", true);
  REQUIRE(dg.status == ParseStatus::ok);
  CHECK(dg.message.body == "xy");
  // extra bytes after the body of a datagram are ignored (RFC 3261 18.3)
  auto extra = parse("OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\n\r\nxyz", true);
  REQUIRE(extra.status == ParseStatus::ok);
  CHECK(extra.message.body == "x");
}

TEST_CASE("malformed messages are rejected with a reason") {
  const char* bad[] = {
      "",
      "\r\n\r\n",
      "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n",                           // no end of headers (datagram)
      "INVITE sip:a@b SIP/3.0\r\n\r\n",                                 // version
      "INVITE  sip:a@b SIP/2.0\r\n\r\n",                                // empty URI
      "INV@TE sip:a@b SIP/2.0\r\n\r\n",                                 // method not a token
      "INVITE sip:a@b SIP/2.0 \r\n\r\n",                                // trailing junk
      "SIP/2.0 20 OK\r\n\r\n",                                          // 2-digit status
      "SIP/2.0 099 Weird\r\n\r\n",                                      // out of range
      "SIP/2.0 2000 OK\r\n\r\n",                                        // 4 digits
      "INVITE sip:a@b SIP/2.0\r\n folded-first\r\n\r\n",                // continuation first
      "INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n",                      // no colon
      "INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",                  // name with space
      "INVITE sip:a@b SIP/2.0\r\n: x\r\n\r\n",                          // empty name
      "INVITE sip:a@b SIP/2.0\nVia: x\r\n\r\n",                         // bare LF
      "INVITE sip:a@b SIP/2.0\r\nVia: x\ry\r\n\r\n",                    // bare CR
      "INVITE sip:a@b SIP/2.0\r\nContent-Length: abc\r\n\r\n",          // not a number
      "INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",           // negative
      "INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",  // huge
      "INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nshort",      // body shorter (datagram)
      "INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab",  // conflicting
  };
  for (const char* text : bad) {
    CAPTURE(text);
    auto r = parse(text, true);
    CHECK(r.status == ParseStatus::invalid);
    CHECK_FALSE(r.error.empty());
  }
  std::string nul("INVITE sip:a@b SIP/2.0\r\nVia: a\0b\r\n\r\n", 36);
  CHECK(parse(nul, true).status == ParseStatus::invalid);
}

TEST_CASE("size limits: too many headers, too large a message") {
  std::string many = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (std::size_t i = 0; i <= kMaxHeaders; ++i) many += "X-H: " + std::to_string(i) + "\r\n";
  many += "\r\n";
  CHECK(parse(many, true).status == ParseStatus::invalid);
  std::string big = "OPTIONS sip:a@b SIP/2.0\r\nl: 9000\r\n\r\n" + std::string(9000, 'x');
  CHECK(parse(big, true).status == ParseStatus::invalid);
  CHECK(parse(big, false).status == ParseStatus::invalid);
  // a stream that never ends its header section is cut at the limit
  std::string endless = "OPTIONS sip:a@b SIP/2.0\r\nX: " + std::string(kMaxMessageBytes, 'y');
  CHECK(parse(endless, false).status == ParseStatus::invalid);
}

TEST_CASE("header parameters: read, replace, quoted and bracketed parts ignored") {
  std::string via = "SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKx;rport";
  CHECK(header_param(via, "branch") == "z9hG4bKx");
  CHECK(header_param(via, "rport") == "");
  CHECK_FALSE(header_param(via, "received"));
  CHECK(replace_params(via, {"rport", "received"}, ";received=203.0.113.1;rport=4000") ==
        "SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKx;received=203.0.113.1;rport=4000");
  std::string from = "\"a;tag=no\" <sip:x@y;tag=no>;tag=yes";
  CHECK(header_param(from, "tag") == "yes");
  CHECK(replace_params("SIP/2.0/UDP a;rport, SIP/2.0/UDP b", {"rport"}, ";rport=1") ==
        "SIP/2.0/UDP a;rport=1, SIP/2.0/UDP b");
}

TEST_CASE("header parameters: an unclosed quote or bracket ends at the end of the value, never out of range") {
  for (std::string value : {"\"SIP/2.0/UDP h;branch=1", "<sip:x@y;rport", "\"", "<", "SIP/2.0/UDP h;\"x", "a;<b"}) {
    CAPTURE(value);
    std::string out;
    CHECK_NOTHROW(out = replace_params(value, {"received", "rport"}, ";received=192.0.2.1"));
    CHECK(out.ends_with(";received=192.0.2.1"));
    CHECK_NOTHROW((void)header_param(value, "rport"));
  }
  CHECK(replace_params("\"a;b", {"rport"}, ";x") == "\"a;b;x");  // quoted to the end: one opaque value
}

TEST_CASE("SDP: strict line syntax") {
  CHECK(parse_sdp("v=0\nc=IN IP4 1.2.3.4\n"));
  CHECK(parse_sdp("")->empty());
  CHECK_FALSE(parse_sdp("v=0\r\nnot sdp\r\n"));
  CHECK_FALSE(parse_sdp("V=0\r\n"));
  CHECK_FALSE(parse_sdp("v=0\r\n\r\nc=x\r\n"));
  CHECK_FALSE(parse_sdp("v=0\r\r\n"));
}

TEST_CASE("base64 and the mirror round trip, and corrupt mirrors are rejected") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");  // RFC 4648 section 10
  CHECK(base64_decode("Zm9vYg==") == "foob");
  CHECK_FALSE(base64_decode("Zm9vYg="));
  CHECK_FALSE(base64_decode("Zm9v!mFy"));
  CHECK_FALSE(base64_decode("Zg==Zg=="));
  CHECK_FALSE(base64_decode("Z=9v"));

  Mirror m{"203.0.113.1", 40001, kInvite};
  auto body = encode_mirror(m);
  CHECK(body.find("198.18") == std::string::npos);
  CHECK(body.size() < kInvite.size());  // deflate + base64 is smaller than the request
  auto back = decode_mirror(body + "\r\n");
  REQUIRE(back);
  CHECK(back->source_ip == "203.0.113.1");
  CHECK(back->source_port == 40001);
  CHECK(back->request == kInvite);

  CHECK_FALSE(decode_mirror("not base64!"));
  CHECK_FALSE(decode_mirror(base64_encode("raw, not deflated")));
  CHECK_FALSE(decode_mirror(base64_encode(deflate_raw("no newline"))));
  CHECK_FALSE(decode_mirror(base64_encode(deflate_raw("1.2.3.4 99999\nx"))));
  // a deflate bomb beyond the size limit is refused
  CHECK_FALSE(decode_mirror(base64_encode(deflate_raw("1.2.3.4 5\n" + std::string(100000, 'a')))));
}

TEST_CASE("random mutations of a valid message never crash the parser") {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s = kInvite;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      auto pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.insert(pos, 1, "\r\n :;<>\"\0"[rng() % 9]);
          break;
        default:
          if (pos < s.size()) s.erase(pos, rng() % 16);
      }
    }
    for (bool dg : {true, false}) {
      auto r = parse(s, dg);
      if (r.status == ParseStatus::ok) {
        CHECK(r.consumed <= s.size());
        (void)parse_sdp(r.message.body);
        (void)serialize(r.message);
      }
    }
    (void)decode_mirror(s);
  }
}
