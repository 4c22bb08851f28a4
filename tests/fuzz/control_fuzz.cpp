// fuzz-link: callready_base
// The responder's control port (internet-facing): what it makes of one
// request line, with a token (where, past the proof, nothing can be reached
// without the key, so also without one: every op and field is explored),
// and the echo sessions a hello opens, for addresses and lifetimes the bytes
// pick. Nothing throws; an accepted request is well-formed.
#include <boost/asio/ip/address_v6.hpp>
#include <cstring>

#include "probe/respond/control_server.hpp"
#include "probe/respond/control_sessions.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready;
using namespace callready::respond;

CALLREADY_FUZZ_TARGET(control) {
  auto line = fuzz::text_of(data, size);
  ResponderOptions open, keyed;
  keyed.token = "fuzz-token";
  for (const auto* opts : {&open, &keyed}) {
    auto r = read_control_request(line, *opts, "00112233445566778899aabbccddeeff");
    CALLREADY_FUZZ_CHECK(r.accepted() || r.error == "too_large" || r.error == "bad_request" ||
                         r.error == "unauthorized");
    CALLREADY_FUZZ_CHECK(r.description.size() < 128);
    if (!r.accepted()) continue;
    CALLREADY_FUZZ_CHECK(opts->token.empty());  // the proof cannot be guessed
    if (r.op == ControlRequest::Op::hello) {
      CALLREADY_FUZZ_CHECK(r.session_lifetime >= std::chrono::seconds(1) &&
                           r.session_lifetime <= ControlSessions::kMaxLifetime);
    } else {
      CALLREADY_FUZZ_CHECK(r.request.is_object());
      (void)r.request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }

  // Sessions: each 17 bytes open one (an address and a lifetime), then ask.
  ControlSessions sessions;
  auto now = Clock::time_point(std::chrono::hours(1000));
  for (std::size_t at = 0; at + 17 <= size && at < 17 * 64; at += 17) {
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), data + at, 16);
    boost::asio::ip::address client = boost::asio::ip::address_v6(b);
    auto lifetime = std::chrono::seconds(data[at + 16] * 20);
    auto granted = sessions.open(client, lifetime, now);
    CALLREADY_FUZZ_CHECK(granted >= std::chrono::seconds(1) && granted <= ControlSessions::kMaxLifetime);
    CALLREADY_FUZZ_CHECK(sessions.is_open(client, now));
    CALLREADY_FUZZ_CHECK(sessions.is_open(plain_address(client), now + granted - std::chrono::seconds(1)));
    CALLREADY_FUZZ_CHECK(sessions.size() <= ControlSessions::kMaxSessions);
    now += std::chrono::seconds(data[at] % 8);
  }
  sessions.expire(now + ControlSessions::kMaxLifetime);
  CALLREADY_FUZZ_CHECK(sessions.size() == 0);
  return 0;
}
