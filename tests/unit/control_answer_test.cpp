// The scan's reading of a responder's control lines, without sockets: a
// broken or hostile responder gets a protocol failure that names the field,
// never an exception, a cast out of range or an unbounded table.
#include <doctest/doctest.h>

#include <string>

#include "probe/net/responder_control.hpp"

using namespace callready::net;

TEST_CASE("a greeting gives its nonce, anything else is not a responder") {
  CHECK(read_control_greeting(R"({"service":"callready-respond","version":1,"nonce":"ab12"})") == "ab12");
  CHECK(read_control_greeting(R"({"service":"callready-respond"})") == "");
  CHECK_FALSE(read_control_greeting(R"({"service":"ssh"})"));
  CHECK_FALSE(read_control_greeting("SSH-2.0-OpenSSH_9.2"));
  CHECK_FALSE(read_control_greeting(std::string(100, '[')));
}

TEST_CASE("an answer that is not ok is a refusal in its own, escaped, word") {
  auto refused = read_control_answer(R"({"ok":false,"error":"unauthorized"})");
  CHECK_FALSE(refused.answer);
  CHECK(refused.failure == ResponderInfo::Failure::unauthorized);
  CHECK(refused.refusal == "unauthorized");

  auto odd = read_control_answer("{\"ok\":false,\"error\":\"x\\u001b[2J\"}");
  CHECK(odd.failure == ResponderInfo::Failure::protocol);
  CHECK(odd.refusal == "x\\x1b[2J");

  CHECK(read_control_answer(R"({"ok":1})").failure == ResponderInfo::Failure::protocol);
  CHECK(read_control_answer("not json").error == "control: answer is not JSON");
  CHECK(read_control_answer(std::string(10000, '[') + std::string(10000, ']')).failure ==
        ResponderInfo::Failure::protocol);
}

TEST_CASE("a hello answer is read into services, observed address and rate") {
  auto answer =
      read_control_answer(R"({"ok":true,"token_required":true,"observed":{"address":"198.18.0.2","port":40000},)"
                          R"("services":{"stun":["3478","5000-5002"]},"alt_address":"203.0.113.9","max_pps":2000})");
  REQUIRE(answer.answer);
  auto info = read_hello_answer(*answer.answer);
  CHECK(info.ok());
  CHECK(info.token_required);
  CHECK(info.ports("stun") == std::vector<std::uint16_t>{3478, 5000, 5001, 5002});
  CHECK(info.observed.address().to_string() == "198.18.0.2");
  CHECK(info.observed.port() == 40000);
  CHECK(info.alt_address == "203.0.113.9");
  CHECK(info.max_pps == 2000);
}

TEST_CASE("a malformed hello field is a protocol failure naming it") {
  for (const char* bad : {R"({"ok":true,"max_pps":1e300})", R"({"ok":true,"max_pps":-5})",
                          R"({"ok":true,"max_pps":18446744073709551615})", R"({"ok":true,"observed":[1]})",
                          R"({"ok":true,"observed":{"address":"198.18.0.2","port":70000}})",
                          R"({"ok":true,"observed":{"address":"nowhere","port":1}})"}) {
    CAPTURE(bad);
    auto info = read_hello_answer(nlohmann::json::parse(bad));
    CHECK(info.failure == ResponderInfo::Failure::protocol);
    CHECK(info.error.rfind("control: malformed answer: ", 0) == 0);
  }
}

TEST_CASE("a hello answer keeps a bounded number of services") {
  nlohmann::json answer = {{"ok", true}};
  for (int i = 0; i < 1000; ++i) answer["services"]["s" + std::to_string(i)] = {"1-65535"};
  auto info = read_hello_answer(answer);
  CHECK(info.services.size() == kMaxAnsweredServices);
}
