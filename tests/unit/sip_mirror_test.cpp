// The SIP mirror's answers (checks/sip_alg/sip_service.cpp) and the check's
// request builder and diff (checks/sip_alg/sip_alg_probe.cpp), without sockets.
#include <doctest/doctest.h>

#include "checks/sip_alg/sip_alg_probe.hpp"
#include "checks/sip_alg/sip_codec.hpp"
#include "checks/sip_alg/sip_service.hpp"

using namespace callready;
namespace sip = callready::checks::sip;
namespace alg = callready::checks::sip_alg;
using boost::asio::ip::make_address;

namespace {
alg::RequestSpec spec(const std::string& method) {
  return alg::new_spec(method, "UDP", make_address("198.18.0.2"), 5060, make_address("203.0.113.10"), 5060);
}
}  // namespace

TEST_CASE("the probe's requests carry its address everywhere an ALG looks") {
  auto s = spec("INVITE");
  CHECK(s.media_port % 2 == 0);
  CHECK(s.media_port >= 20000);
  CHECK(spec("INVITE").media_port != s.media_port);  // unique m= ports (LAB.md trap)
  auto text = alg::build_request(s);
  auto r = sip::parse(text, true);
  REQUIRE(r.status == sip::ParseStatus::ok);
  const auto& m = r.message;
  CHECK(m.uri == "sip:mirror@203.0.113.10:5060");
  CHECK(m.header("Via")->starts_with("SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK"));
  CHECK(m.header("From")->find("<sip:probe@198.18.0.2>") != std::string::npos);
  CHECK(m.header("Contact")->find("198.18.0.2:5060") != std::string::npos);
  CHECK(m.header("Call-ID")->ends_with("@198.18.0.2"));
  auto sdp = sip::parse_sdp(m.body);
  REQUIRE(sdp);
  CHECK((*sdp)[1].value.ends_with("IN IP4 198.18.0.2"));
  CHECK((*sdp)[3].value == "IN IP4 198.18.0.2");
  CHECK((*sdp)[5].value == "audio " + std::to_string(s.media_port) + " RTP/AVP 0 8 101");
  CHECK(text.size() >= 900);  // padded: the mirror answers at most 1.5x

  auto v6 = alg::build_request(
      alg::new_spec("REGISTER", "TCP", make_address("2001:db8:1::2"), 40000, make_address("2001:db8:2::10"), 5060));
  auto r6 = sip::parse(v6, false);
  REQUIRE(r6.status == sip::ParseStatus::ok);
  CHECK(r6.message.uri == "sip:[2001:db8:2::10]:5060");
  CHECK(*r6.message.header("Via") != "");
  CHECK(r6.message.header("Via")->starts_with("SIP/2.0/TCP [2001:db8:1::2]:40000;"));
  CHECK(r6.message.body.empty());
}

TEST_CASE("the mirror answers with the request inside and Via received/rport, never more than 1.5x") {
  for (const char* method : {"INVITE", "REGISTER", "OPTIONS"}) {
    CAPTURE(method);
    auto s = spec(method);
    auto request = alg::build_request(s);
    auto out = checks::sip_mirror_answer(request, true, make_address("203.0.113.1"), 40123);
    REQUIRE_FALSE(out.empty());
    CHECK(out.size() <= request.size() * 3 / 2);
    auto r = sip::parse(out, true);
    REQUIRE(r.status == sip::ParseStatus::ok);
    CHECK(r.message.status == (std::string(method) == "INVITE" ? 488 : 200));
    CHECK(*r.message.header("Call-ID") == s.call_id);
    CHECK(*r.message.header("CSeq") == "1 " + std::string(method));
    CHECK(sip::header_param(*r.message.header("Via"), "received") == "203.0.113.1");
    CHECK(sip::header_param(*r.message.header("Via"), "rport") == "40123");
    CHECK(sip::header_param(*r.message.header("To"), "tag"));
    REQUIRE(r.message.header("Content-Type"));
    CHECK(*r.message.header("Content-Type") == sip::kMirrorContentType);
    auto mirror = sip::decode_mirror(r.message.body);
    REQUIRE(mirror);
    CHECK(mirror->request == request);
    CHECK(mirror->source_ip == "203.0.113.1");
    CHECK(mirror->source_port == 40123);
  }
}

TEST_CASE("the mirror stays silent or small where it must") {
  auto from = make_address("192.0.2.7");
  CHECK(checks::sip_mirror_answer("garbage", true, from, 1).empty());
  CHECK(checks::sip_mirror_answer("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", true, from, 1).empty());
  auto s = spec("INVITE");
  auto ack = alg::build_ack(s, "<sip:mirror@203.0.113.10>;tag=1");
  REQUIRE(sip::parse(ack, true).status == sip::ParseStatus::ok);
  CHECK(checks::sip_mirror_answer(ack, true, from, 1).empty());
  // Missing mandatory headers: no answer
  CHECK(checks::sip_mirror_answer("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", true, from, 1).empty());
  // A minimal request: the mirror would exceed 1.5x, so the bare response goes out, still within the bound.
  std::string tiny =
      "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: "
      "<sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nX-Pad: 0123456789012345678901234567890123456789\r\n\r\n";
  auto out = checks::sip_mirror_answer(tiny, true, from, 1);
  REQUIRE_FALSE(out.empty());
  CHECK(out.size() <= tiny.size() * 3 / 2);
  CHECK(out.find(sip::kMirrorContentType) == std::string::npos);
  // No room even for the bare response: nothing.
  std::string minimal =
      "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nf: <sip:x@y>\r\nt: <sip:a@b>\r\ni: 1\r\nCSeq: 1 OPTIONS\r\n\r\n";
  CHECK(checks::sip_mirror_answer(minimal, true, from, 1).empty());
}

TEST_CASE("the diff names exactly the fields that changed") {
  auto s = spec("INVITE");
  auto sent = alg::build_request(s);
  auto same = alg::diff_requests(sent, sent);
  CHECK(same.identical);
  CHECK(same.changes.empty());
  CHECK(same.sent == same.received);
  REQUIRE(same.order.size() >= 3);
  CHECK(same.order[0] == "Method");
  CHECK(same.order[1] == "Request-URI");
  CHECK(same.order[2] == "Via");
  CHECK(same.order.back() == "a=");  // SDP lines last, in message order

  // What nf_nat_sip does from source port 5060 (LAB.md).
  std::string alg = sent;
  auto replace_all = [&alg](const std::string& a, const std::string& b, std::size_t from) {
    for (auto p = alg.find(a, from); p != std::string::npos; p = alg.find(a, p + b.size())) alg.replace(p, a.size(), b);
  };
  auto callid_at = alg.find("Call-ID:");
  auto callid_end = alg.find("\r\n", callid_at);
  std::string callid_line = alg.substr(callid_at, callid_end - callid_at);
  replace_all("198.18.0.2", "203.0.113.1", 0);
  alg.replace(alg.find("Call-ID:"), alg.find("\r\n", alg.find("Call-ID:")) - alg.find("Call-ID:"), callid_line);
  alg.replace(alg.find("<sip:probe@203.0.113.1>"), 23, "<sip:probe@203.0.113.1:5060>");
  auto body = alg.substr(alg.find("\r\n\r\n") + 4);
  auto cl = alg.find("Content-Length: ");
  alg.replace(cl, alg.find("\r\n", cl) - cl, "Content-Length: " + std::to_string(body.size()));
  auto d = alg::diff_requests(sent, alg);
  CHECK_FALSE(d.identical);
  std::vector<std::string> names;
  for (const auto& c : d.changes) names.push_back(c.field);
  CHECK(names == std::vector<std::string>{"Via", "From", "Contact", "Content-Length", "o=", "c="});
  CHECK(d.received["c="] == "IN IP4 203.0.113.1");
  CHECK(d.sent["c="] == "IN IP4 198.18.0.2");

  // A field the ALG added is listed after the sent ones; a changed method is a field too.
  std::string added = sent;
  added.replace(0, 6, "OPTIONS");
  added.insert(added.find("\r\n") + 2, "X-Inserted: yes\r\n");
  auto d2 = alg::diff_requests(sent, added);
  REQUIRE(d2.changes.size() == 2);
  CHECK(d2.changes[0].field == "Method");
  CHECK(d2.changes[0].received == "OPTIONS");
  CHECK(d2.changes[1].field == "X-Inserted");
  CHECK(d2.changes[1].sent == "");
  CHECK(d2.order.back() == "X-Inserted");

  auto broken = alg::diff_requests(sent, "INVITE garbage");
  REQUIRE(broken.changes.size() == 1);
  CHECK(broken.changes[0].field == "message");
}

TEST_CASE("a Via whose parameters open a quote or bracket they never close is answered, not thrown on") {
  auto from = make_address("192.0.2.7");
  for (const char* via : {"\"SIP/2.0/UDP h;branch=z9hG4bK1", "<SIP/2.0/UDP h;branch=z9hG4bK1"}) {
    CAPTURE(via);
    std::string request = std::string("OPTIONS sip:a@b SIP/2.0\r\nVia: ") + via +
                          "\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
                          "X-Pad: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n";
    std::string out;
    CHECK_NOTHROW(out = checks::sip_mirror_answer(request, true, from, 1));
    CHECK_FALSE(out.empty());
  }
}

TEST_CASE("with a token: only requests with a valid X-Callready-Auth are answered, never above their size") {
  const long long now = 1764700000;
  checks::MirrorPolicy policy{"s3cret", now};
  for (std::string method : {"INVITE", "REGISTER", "OPTIONS"})
    for (std::string local : {"198.18.0.2", "2001:db8::2"}) {
      CAPTURE(method);
      CAPTURE(local);
      auto s = alg::new_spec(method, "UDP", make_address(local), 5060, make_address("203.0.113.10"), 5060);
      auto unauthenticated = alg::build_request(s);
      CHECK(checks::sip_mirror_answer(unauthenticated, true, make_address("203.0.113.1"), 40123, policy).empty());
      s.token = "s3cret";
      s.unix_seconds = now - 30;
      auto request = alg::build_request(s);
      CHECK(request.size() <= 1300);                                         // RFC 3261 18.1.1: still fine over UDP
      auto source = make_address("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");  // the longest source text
      auto out = checks::sip_mirror_answer(request, true, source, 65535, policy);
      REQUIRE_FALSE(out.empty());
      CHECK(out.size() <= request.size());
      auto r = sip::parse(out, true);
      REQUIRE(r.status == sip::ParseStatus::ok);
      REQUIRE(r.message.header("Content-Type"));  // the mirrored copy still fits
      auto mirror = sip::decode_mirror(r.message.body);
      REQUIRE(mirror);
      CHECK(mirror->request == request);
      // Another token, or a request from too long ago, gets nothing.
      checks::MirrorPolicy other{"other", now};
      CHECK(checks::sip_mirror_answer(request, true, source, 1, other).empty());
      checks::MirrorPolicy later{"s3cret", now + sip::kAuthMaxSkewSeconds + 60};
      CHECK(checks::sip_mirror_answer(request, true, source, 1, later).empty());
    }
}

TEST_CASE("X-Callready-Auth: the value binds token, method and time, and malformed values fail") {
  auto v = sip::auth_value("k", "OPTIONS", 1000, "abcd");
  CHECK(v.starts_with("1000.abcd."));
  CHECK(v.size() == std::string("1000.abcd.").size() + 32);
  CHECK(sip::auth_verifies(v, "k", "OPTIONS", 1000));
  CHECK(sip::auth_verifies(v, "k", "OPTIONS", 1000 + sip::kAuthMaxSkewSeconds));
  CHECK_FALSE(sip::auth_verifies(v, "k", "OPTIONS", 1001 + sip::kAuthMaxSkewSeconds));
  CHECK_FALSE(sip::auth_verifies(v, "k", "INVITE", 1000));
  CHECK_FALSE(sip::auth_verifies(v, "K", "OPTIONS", 1000));
  auto tampered = v;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  CHECK_FALSE(sip::auth_verifies(tampered, "k", "OPTIONS", 1000));
  for (std::string bad :
       std::vector<std::string>{"", ".", "..", "1000", "1000.abcd", "x000.abcd.00", "99999999999999999999.a.b",
                                "1000." + std::string(100, 'a') + ".00", "-1.a.b"})
    CHECK_FALSE(sip::auth_verifies(bad, "k", "OPTIONS", 1000));
}

TEST_CASE("the mirror decodes whatever the deflate stream's last bits look like") {
  // Beast's inflate once missed the end of about 1 stream in 1000 of these.
  for (int i = 0; i < 3000; ++i) {
    auto s = alg::new_spec("OPTIONS", "UDP", make_address("2001:db8::2"), 5060, make_address("203.0.113.10"), 5060);
    s.token = "k";
    s.unix_seconds = 1764700000 + i;
    sip::Mirror m{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 65535, alg::build_request(s)};
    auto back = sip::decode_mirror(sip::encode_mirror(m));
    REQUIRE(back);
    CHECK(back->request == m.request);
  }
}
