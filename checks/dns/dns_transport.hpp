#pragma once
// One DNS question over one transport, without c-ares: over UDP to see the
// answer's TC bit, over TCP (RFC 1035 §4.2.2, RFC 7766) to see whether the
// retry a truncated answer demands can get through. c-ares retries over TCP
// by itself and, when that fails, reports only "no answer": these tell the
// two apart.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "probe/clock.hpp"
#include "probe/model.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/resolver.hpp"

namespace callready::checks::dns {

struct TransportAnswer {
  std::string transport;                   // udp | tcp
  bool answered = false;                   // a reply to our question came back
  bool truncated = false;                  // its TC bit was set
  int rcode = -1;                          // when answered
  std::vector<unsigned char> message;      // when answered
  std::optional<net::NetFailure> failure;  // when not answered: refused, timeout, unreachable, closed, ...
  Operation failed = Operation::none;      // when not answered: the step (connect, send, receive)
  std::string error;                       // when not answered, in words
  int garbled = 0;  // UDP: datagrams from the server that were not a reply to the question (bounded)
};

// The wire form of a recursive question (RD set) for `name` / `type`.
std::vector<unsigned char> make_question(const std::string& name, int type);

// One datagram to `server`, the first reply with our id back, within `limit`.
boost::asio::awaitable<TransportAnswer> ask_over_udp(net::DnsServer server, std::vector<unsigned char> question,
                                                     Millis limit);

// Connect, send the length-prefixed question, read one length-prefixed reply, within `limit`.
boost::asio::awaitable<TransportAnswer> ask_over_tcp(net::DnsServer server, std::vector<unsigned char> question,
                                                     Millis limit);

// The first server of a resolver's description ("IP[:PORT][,...]"); nullopt
// for "system resolver" or anything else that does not name one.
std::optional<net::DnsServer> first_server(const std::string& described);

// NOERROR, NXDOMAIN, SERVFAIL, REFUSED as the resolver's failure kinds.
net::DnsFailure failure_of_rcode(int rcode);

}  // namespace callready::checks::dns
