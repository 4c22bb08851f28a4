// fuzz-link: check_sip_alg
// SIP: the parser (datagram and stream framing), serialising what parsed,
// header parameters (replace_params once ended the mirror's UDP loop), SDP,
// the mirror body codec, and the mirror's whole answer to the bytes.
#include <boost/asio/ip/address.hpp>

#include "checks/sip_alg/sip_codec.hpp"
#include "checks/sip_alg/sip_service.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks;

CALLREADY_FUZZ_TARGET(sip) {
  auto text = callready::fuzz::text_of(data, size);
  const auto source = boost::asio::ip::make_address("192.0.2.7");
  for (bool datagram : {true, false}) {
    auto parsed = sip::parse(text, datagram);
    if (parsed.status == sip::ParseStatus::ok) {
      CALLREADY_FUZZ_CHECK(parsed.consumed <= size);
      auto again = sip::parse(sip::serialize(parsed.message), datagram);
      (void)again;
      for (const auto& h : parsed.message.headers) {
        (void)sip::canonical_name(h.name);
        (void)sip::header_param(h.value, "branch");
        (void)sip::replace_params(h.value, {"branch", "rport", "received"}, ";received=192.0.2.7;rport=5060");
      }
      (void)sip::parse_sdp(parsed.message.body);
      (void)sip::decode_mirror(parsed.message.body);
    }
    auto answer = sip_mirror_answer(text, datagram, source, 5060);
    if (!answer.empty()) {
      auto answered = sip::parse(answer, true);
      CALLREADY_FUZZ_CHECK(answered.status == sip::ParseStatus::ok && !answered.message.is_request);
    }
  }
  (void)sip::decode_mirror(text);
  (void)sip::base64_decode(text);
  (void)sip::inflate_raw(text, 65536);
  return 0;
}
