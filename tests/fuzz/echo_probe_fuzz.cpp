// fuzz-link: check_common
// The UDP echo probe codec, every version: requests and replies, keyed and
// open. A reply the responder would send is never longer than its request
// (no amplification) and decodes back with the same key.
#include "checks/common/echo_probe.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks::echo;

CALLREADY_FUZZ_TARGET(echo_probe) {
  Bytes bytes(data, size);
  for (std::string_view token : {std::string_view(), std::string_view("fuzz-token")}) {
    Request request;
    if (decode_request(bytes, token, request) == DecodeError::none) {
      Observation seen;
      auto reply = encode_reply(request, seen, token);
      CALLREADY_FUZZ_CHECK(reply.size() <= size);
      Reply back;
      CALLREADY_FUZZ_CHECK(decode_reply(Bytes(reply.data(), reply.size()), token, back) == DecodeError::none);
      auto re = encode_request(request, token);
      (void)re;
    }
    Reply reply;
    (void)decode_reply(bytes, token, reply);
  }
  return 0;
}
