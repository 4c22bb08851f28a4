#pragma once
// The SIP mirror's answer logic, apart from its sockets so it can be unit tested.
// sip_mirror_service() runs it on UDP and TCP for `callready respond --sip-ports`.
#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

#include "probe/respond/service.hpp"

namespace callready::checks {

// How the mirror answers. Open (no token): any request, a response up to 1.5x
// its size. With a token: only requests whose X-Callready-Auth verifies (see
// sip_codec.hpp) at `now_seconds`, and a response never larger than the request.
struct MirrorPolicy {
  std::string token;
  long long now_seconds = 0;  // unix time, for the auth header's freshness
};

// The response to one SIP request that arrived as `raw` from source:port, or ""
// when nothing must be sent (not a request, ACK, unparseable, unauthenticated,
// or a response that would exceed the bound even without the mirror).
std::string sip_mirror_answer(std::string_view raw, bool datagram, const boost::asio::ip::address& source,
                              unsigned short source_port, const MirrorPolicy& policy = {});

// The `sip_alg` kind's far end: the SIP mirror on UDP and TCP.
respond::ServiceKind sip_mirror_service();

}  // namespace callready::checks
