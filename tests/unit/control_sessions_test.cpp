// The responder's control port, without sockets: the echo sessions a hello
// opens (per source address, within a lifetime, bounded in number) and what
// it makes of a request line (never throws, whatever the bytes).
#include "probe/respond/control_sessions.hpp"

#include <doctest/doctest.h>

#include <string>

#include "probe/net/responder_control.hpp"
#include "probe/respond/control_server.hpp"

using namespace callready;
using namespace callready::respond;
using namespace std::chrono_literals;
using boost::asio::ip::make_address;

namespace {

const Clock::time_point t0 = Clock::time_point(1000h);

ResponderOptions with_token(std::string token) {
  ResponderOptions o;
  o.token = std::move(token);
  return o;
}

std::string hello_line(const std::string& token, const std::string& nonce, const std::string& extra = "") {
  return R"({"op":"hello","version":1,"proof":")" + net::control_proof(token, nonce) + "\"" + extra + "}";
}

}  // namespace

TEST_CASE("an echo session is open for its own address only, within its lifetime") {
  ControlSessions s;
  auto client = make_address("198.51.100.7");
  CHECK_FALSE(s.is_open(client, t0));
  CHECK(s.open(client, 60s, t0) == 60s);
  CHECK(s.is_open(client, t0));
  CHECK(s.is_open(client, t0 + 59s));
  CHECK_FALSE(s.is_open(client, t0 + 60s));  // ended
  CHECK_FALSE(s.is_open(make_address("198.51.100.8"), t0 + 1s));
  CHECK_FALSE(s.is_open(make_address("2001:db8::7"), t0 + 1s));
  // Renewing extends it; a shorter second hello never cuts it short.
  s.open(client, 120s, t0 + 30s);
  CHECK(s.is_open(client, t0 + 149s));
  s.open(client, 1s, t0 + 40s);
  CHECK(s.is_open(client, t0 + 149s));
  CHECK_FALSE(s.is_open(client, t0 + 150s));
  // The sweep forgets ended sessions only.
  s.open(make_address("203.0.113.9"), 1000s, t0);
  s.expire(t0 + 150s);
  CHECK(s.size() == 1);
  CHECK(s.is_open(make_address("203.0.113.9"), t0 + 150s));
}

TEST_CASE("an echo session's lifetime is clamped to between 1 s and the longest scan") {
  ControlSessions s;
  CHECK(s.open(make_address("192.0.2.1"), 0s, t0) == 1s);
  CHECK(s.open(make_address("192.0.2.2"), 100000s, t0) == ControlSessions::kMaxLifetime);
  CHECK_FALSE(s.is_open(make_address("192.0.2.2"), t0 + ControlSessions::kMaxLifetime));
}

TEST_CASE("a hello over a dual-stack control socket opens the session of the IPv4 address") {
  ControlSessions s;
  s.open(make_address("::ffff:192.0.2.10"), 60s, t0);
  CHECK(s.is_open(make_address("192.0.2.10"), t0 + 1s));
  CHECK(s.is_open(make_address("::ffff:192.0.2.10"), t0 + 1s));
  CHECK_FALSE(s.is_open(make_address("192.0.2.11"), t0 + 1s));
}

TEST_CASE("the session table is bounded: when full the session that ends soonest makes room") {
  ControlSessions s;
  for (std::size_t i = 0; i < ControlSessions::kMaxSessions; ++i) {
    auto a = make_address("2001:db8::" + std::to_string(i + 1));
    s.open(a, std::chrono::seconds(100 + (i == 5 ? 0 : 1000)), t0);  // the sixth ends first
  }
  REQUIRE(s.size() == ControlSessions::kMaxSessions);
  s.open(make_address("192.0.2.200"), 60s, t0 + 1s);
  CHECK(s.size() == ControlSessions::kMaxSessions);
  CHECK(s.is_open(make_address("192.0.2.200"), t0 + 2s));
  CHECK_FALSE(s.is_open(make_address("2001:db8::6"), t0 + 2s));
  CHECK(s.is_open(make_address("2001:db8::5"), t0 + 2s));
  // Renewing one already there does not evict anybody.
  s.open(make_address("2001:db8::7"), 60s, t0 + 3s);
  CHECK(s.size() == ControlSessions::kMaxSessions);
  CHECK(s.is_open(make_address("192.0.2.200"), t0 + 4s));
}

TEST_CASE("a hello with the token's proof is accepted and asks for a session lifetime") {
  auto opts = with_token("s3cret");
  auto r = read_control_request(hello_line("s3cret", "abcd"), opts, "abcd");
  CHECK(r.accepted());
  CHECK(r.op == ControlRequest::Op::hello);
  CHECK(r.session_lifetime == ControlSessions::kMaxLifetime);
  CHECK(read_control_request(hello_line("s3cret", "abcd", R"(,"session_s":30)"), opts, "abcd").session_lifetime == 30s);
  CHECK(read_control_request(hello_line("s3cret", "abcd", R"(,"session_s":99999999)"), opts, "abcd").session_lifetime ==
        ControlSessions::kMaxLifetime);
  for (const char* bad : {R"(,"session_s":0)", R"(,"session_s":-5)", R"(,"session_s":1.5)", R"(,"session_s":"60")"}) {
    CAPTURE(bad);
    CHECK(read_control_request(hello_line("s3cret", "abcd", bad), opts, "abcd").error == "bad_request");
  }
}

TEST_CASE("a hello without the proof of this connection's nonce is unauthorized") {
  auto opts = with_token("s3cret");
  CHECK(read_control_request(hello_line("s3cret", "other-nonce"), opts, "abcd").error == "unauthorized");
  CHECK(read_control_request(hello_line("guess", "abcd"), opts, "abcd").error == "unauthorized");
  CHECK(read_control_request(R"({"op":"hello"})", opts, "abcd").error == "unauthorized");
  CHECK(read_control_request(R"({"op":"hello","proof":12})", opts, "abcd").error == "unauthorized");
  CHECK(read_control_request(R"({"op":"hello","proof":null})", opts, "abcd").error == "unauthorized");
  // Without a token nothing is asked.
  CHECK(read_control_request(R"({"op":"hello"})", ResponderOptions{}, "abcd").accepted());
}

TEST_CASE("malformed control lines are refused as bad requests, never thrown") {
  auto opts = with_token("s3cret");
  for (std::string line :
       {std::string(""), std::string("not json"), std::string("[]"), std::string("{}"), std::string(R"({"op":1})"),
        std::string(R"({"op":["hello"]})"), std::string(R"({"op":"goodbye"})"), std::string("{\"op\":\"hel\xff\"}"),
        std::string("\0\0\0", 3)}) {
    CAPTURE(line);
    CHECK(read_control_request(line, opts, "abcd").error == "bad_request");
  }
  // Nesting past the limit is refused before parsing, even inside a proven request.
  std::string deep = std::string(100, '[') + std::string(100, ']');
  CHECK(read_control_request(R"({"op":"service","service":"x","proof":")" + net::control_proof("s3cret", "n") +
                                 R"(","request":{"a":)" + deep + "}}",
                             opts, "n")
            .error == "bad_request");
  // Brackets inside strings do not count.
  std::string brackets(200, '[');
  CHECK(read_control_request(
            R"({"op":"hello","note":")" + brackets + R"(","proof":")" + net::control_proof("s3cret", "n") + "\"}", opts,
            "n")
            .accepted());
  CHECK(read_control_request(std::string(kMaxControlLine + 1, ' '), opts, "n").error == "too_large");
}

TEST_CASE("a service request needs a service name and a request object, after the proof") {
  auto opts = with_token("s3cret");
  std::string proof = net::control_proof("s3cret", "n");
  auto ok = read_control_request(
      R"({"op":"service","service":"ice","proof":")" + proof + R"(","request":{"candidates":[1,2]}})", opts, "n");
  REQUIRE(ok.accepted());
  CHECK(ok.op == ControlRequest::Op::service);
  CHECK(ok.service == "ice");
  CHECK(ok.request["candidates"].size() == 2);
  CHECK(ok.description == R"( service "ice")");
  for (std::string bad :
       {R"("service":"ice")", R"("service":7,"request":{})", R"("request":{})", R"("service":"ice","request":[1])"}) {
    CAPTURE(bad);
    CHECK(read_control_request(R"({"op":"service","proof":")" + proof + "\"," + bad + "}", opts, "n").error ==
          "bad_request");
  }
  // Without the proof the shape is not even looked at.
  CHECK(read_control_request(R"({"op":"service","service":7})", opts, "n").error == "unauthorized");
  // The log's description is escaped and short, whatever the name.
  auto odd = read_control_request(
      "{\"op\":\"service\",\"service\":\"" + std::string(500, 'x') + "\\n\\u0007\",\"request\":{}}", opts, "n");
  CHECK(odd.description.size() < 128);
  CHECK(odd.description.find('\n') == std::string::npos);
}
