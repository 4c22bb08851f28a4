#pragma once
// The `proxy` kind's far end: the HTTP echo, plain (`callready respond
// --http-ports`) and inside TLS (`--https-ports`). It answers one request per
// connection with the request's head exactly as it arrived (raw bytes, in
// order) and the source address:port it saw, so the check can tell what a
// proxy on the way added, changed or removed.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "probe/respond/service.hpp"

namespace callready::checks {

// The whole response to the bytes a client has sent so far, or nullopt while
// the request head is incomplete (read on). A malformed head gets 400, one
// over the bounds 431; both close the connection like the echo does.
std::optional<std::string> http_echo_answer(std::string_view received, const boost::asio::ip::address& source,
                                            std::uint16_t source_port, const std::string& tls_pin);

respond::ServiceKind http_echo_service();   // "http_echo", --http-ports
respond::ServiceKind https_echo_service();  // "https_echo", --https-ports

}  // namespace callready::checks
