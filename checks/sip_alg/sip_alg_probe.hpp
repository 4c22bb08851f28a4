#pragma once
// The pure parts of the SIP ALG check: the requests it sends (realistic, with
// the probe's own address in Via, From, Contact, Call-ID and SDP o=/c=) and the
// field-by-field diff between a request as sent and as the mirror saw it.
#include <boost/asio/ip/address.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace callready::checks::sip_alg {

struct RequestSpec {
  std::string method;     // INVITE, REGISTER, OPTIONS
  std::string transport;  // "UDP" or "TCP" (as written in Via)
  boost::asio::ip::address local;
  unsigned short local_port = 0;
  boost::asio::ip::address remote;
  unsigned short remote_port = 5060;
  std::string call_id;  // "<random>@<local>"
  std::string branch;   // "z9hG4bK..."
  std::string from_tag;
  unsigned cseq = 1;
  unsigned short media_port = 0;  // SDP m= port (INVITE); unique per probe, see LAB.md
  // The scan's token: the request carries X-Callready-Auth (sip_codec.hpp) and
  // is padded so that the mirror's answer (never larger than a request under a
  // token) still holds the mirrored copy. Empty: unauthenticated.
  std::string token;
  long long unix_seconds = 0;  // when the request is built, for X-Callready-Auth
};

// Fresh random identifiers (Call-ID, branch, tag, an even media port not
// used before in this process) for one request.
RequestSpec new_spec(std::string method, std::string transport, boost::asio::ip::address local,
                     unsigned short local_port, boost::asio::ip::address remote, unsigned short remote_port);

std::string build_request(const RequestSpec& s);
// The ACK for a non-2xx final response to an INVITE (RFC 3261 17.1.1.3): same
// branch, the response's To (with its tag).
std::string build_ack(const RequestSpec& s, const std::string& response_to);

struct FieldChange {
  std::string field;  // "Via", "Contact", "Request-URI", "c=", "body"
  std::string sent;
  std::string received;
};

struct Diff {
  bool identical = false;            // byte for byte
  std::vector<FieldChange> changes;  // in message order, one per field name
  // Every compared field as sent and as received (multi-valued fields joined by "\n").
  std::map<std::string, std::string> sent, received;
  std::vector<std::string> order;  // the field names in message order, sent first
};

// Compares the request as sent with the bytes the responder received.
Diff diff_requests(const std::string& sent, const std::string& received);

// "[v6]" or "v4".
std::string host_text(const boost::asio::ip::address& a);

}  // namespace callready::checks::sip_alg
