#pragma once
// The candidate message the `ice` kind and its responder service exchange over
// the control channel: one ICE description each way (RFC 8839 attributes in
// JSON): {"ufrag":"..","pwd":"..","candidates":["candidate:1 1 UDP 2130706431
// 192.0.2.1 5000 typ host", ..]}. Decoding validates everything an agent is
// about to trust, so malformed input is refused with a reason on both ends.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callready::checks::ice {

inline constexpr std::size_t kMaxCandidates = 32;

// One candidate-attribute value (RFC 8839 §5.1, tcptype from RFC 6544 §4.5).
struct Candidate {
  std::string foundation;
  int component = 1;
  std::string transport;  // "udp" or "tcp" (lower case)
  std::uint32_t priority = 0;
  std::string address;  // an IP literal (FQDN candidates are not accepted)
  std::uint16_t port = 0;
  std::string type;                           // host, srflx, prflx, relay
  std::string related_address;                // raddr, may be empty
  std::optional<std::uint16_t> related_port;  // rport
  std::string tcptype;                        // active, passive, so (TCP only)
  bool operator==(const Candidate&) const = default;
};

// "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ..."
// (the "a=" prefix and the "candidate:" prefix are both optional on input).
std::optional<Candidate> parse_candidate(std::string_view line, std::string* why = nullptr);
std::string format_candidate(const Candidate& c);

struct Description {
  std::string ufrag;
  std::string pwd;
  std::vector<Candidate> candidates;
  bool operator==(const Description&) const = default;
};

nlohmann::json to_message(const Description& d);
// nullopt with `why` set when the message is not a valid description.
std::optional<Description> from_message(const nlohmann::json& j, std::string* why = nullptr);

}  // namespace callready::checks::ice
