#pragma once
// RFC 5780 NAT behaviour discovery: mapping (§4.3) and filtering (§4.4),
// each on its own UDP socket so that the mapping tests' outgoing packets do
// not open the pinholes the filtering tests look for. Only ever reports what
// the tests showed; anything it could not establish is "unknown: <why>".
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <string>

#include "probe/clock.hpp"
#include "checks/stun/stun_codec.hpp"

namespace callready::checks::nat_behavior {

inline constexpr const char* kEndpointIndependent = "endpoint-independent";
inline constexpr const char* kAddressDependent = "address-dependent";
inline constexpr const char* kAddressAndPortDependent = "address-and-port-dependent";

struct Result {
  std::string mapping;    // one of the three above, or "unknown: ..."
  std::string filtering;  // likewise
  std::string mapping_evidence;
  std::string filtering_evidence;
};

// `primary`: the server address that answered; `other`: its OTHER-ADDRESS;
// `mapped`: the XOR-MAPPED-ADDRESS seen from `local` towards `primary`.
// Every exchange is bounded by `deadline`.
boost::asio::awaitable<Result> discover(boost::asio::ip::address local, wire::stun::Endpoint primary,
                                        wire::stun::Endpoint other, callready::Clock::time_point deadline);

}  // namespace callready::checks::nat_behavior
