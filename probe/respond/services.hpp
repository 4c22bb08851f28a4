#pragma once
// The services `callready respond` runs, each started on the responder's
// io_context. Each returns an error message when it could not bind, else "".
// Owned by separate files so each service can be written and tested alone.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>

#include "probe/respond/responder.hpp"

namespace callready::respond {

using ResponderLog = std::function<void(const std::string& level, const std::string& line)>;

// STUN Binding (RFC 5389/8489) on opts.stun_ports over UDP and TCP; with
// opts.alt_address also RFC 5780 (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST).
// probe/respond/stun_service.cpp
std::string start_stun_service(boost::asio::io_context& io, const ResponderOptions& opts, ResponderLog log);

// SIP mirror on opts.sip_ports over UDP and TCP: answers each request with a
// response carrying the request exactly as it arrived. probe/respond/sip_service.cpp
std::string start_sip_service(boost::asio::io_context& io, const ResponderOptions& opts, ResponderLog log);

}  // namespace callready::respond
