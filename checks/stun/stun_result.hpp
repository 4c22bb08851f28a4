#pragma once
// The `stun` kind's data: its params, what a measurement found (StunResult),
// the pure judge over it, the details written from it and the view of them.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "checks/common/resolve_step.hpp"
#include "checks/stun/nat_behavior.hpp"
#include "checks/stun/stun_codec.hpp"
#include "probe/check.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/path_rtt.hpp"

namespace callready::checks::stun {

struct StunParams {
  std::string host;
  std::uint16_t port = 3478;
  std::string transport = "udp";
  bool nat_discovery = true;
  // The server is `callready respond`: its control port is asked first, so a
  // responder that is not running, rejects the token or does not serve the
  // port is a set-up error, not "no answer". Absent: when --responder names
  // this host.
  std::optional<bool> responder;

  static StunParams parse(ParamReader& r);
  std::string target() const;  // "host:port/udp"
};

// Why the RFC 5780 tests did or did not run.
enum class NatDiscovery {
  no_answer,              // nothing to start from: no answer, an error answer, no mapped address
  tcp,                    // RFC 5780 tests need UDP
  disabled,               // nat_discovery is false
  no_other_address,       // the server lacks RFC 5780 (no OTHER-ADDRESS)
  other_address_refused,  // OTHER-ADDRESS outside the server's family (or not unicast): not followed
  ran,
};

struct StunResult {
  // What was asked.
  std::string server;
  std::uint16_t port = 3478;
  std::string transport = "udp";

  // The target did not resolve: what the resolver said.
  std::optional<checks::TargetAddresses> unresolved;
  std::optional<boost::asio::ip::address> address;

  // The first Binding exchange. When no answer came: the step that failed
  // (connect: the route lookup over UDP, the connection over TCP; send;
  // receive: silence or a broken stream; parse: only junk arrived), the
  // socket error as net::classify sorted it, and what happened.
  Operation failed = Operation::none;
  std::optional<net::NetFailure> failure;
  std::string error;
  std::string junk;  // bytes arrived that were not our response: why
  // UDP: the ICMP error that ended the wait. Port unreachable from the
  // server's own address is a closed port (the host is there, nothing
  // listens); from another address it is a firewall's REJECT.
  std::optional<IcmpError> icmp;
  // Silence ended it: how long it was waited out and why (details wait_ms,
  // wait_basis, path_rtt_ms, as the tcp kind writes them).
  std::optional<net::SilenceWait> silence;
  std::optional<int> requests_sent;
  bool answered = false;  // a STUN response arrived (success or error)
  std::optional<double> rtt_ms;
  std::optional<Endpoint> local;
  std::optional<std::string> software;
  std::optional<ErrorCode> error_response;  // the server answered with an error
  std::optional<Endpoint> xor_mapped, plain_mapped;
  std::optional<Endpoint> other_address;
  std::string other_address_refused;  // why OTHER-ADDRESS was not followed

  // RFC 5780.
  NatDiscovery discovery = NatDiscovery::no_answer;
  NatBehaviour behaviour;  // when discovery == ran

  // XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
  std::optional<Endpoint> mapped() const { return xor_mapped ? xor_mapped : plain_mapped; }
  std::optional<bool> nat() const;
  // An ALG rewrites addresses in payloads: MAPPED-ADDRESS and its XORed copy disagree.
  std::optional<bool> alg_suspected() const;
  std::string mapping_text() const;    // details' mapping_behavior
  std::string filtering_text() const;  // details' filtering_behavior
  // The site's public address as the server saw it.
  std::optional<std::string> public_address() const;
  // The server itself answered ICMP port unreachable: nothing listens there.
  bool closed_port() const;
};

void to_json(nlohmann::json& j, const StunResult& r);

// Why the RFC 5780 tests must not follow `other` given by `server`; "" when they may.
std::string other_address_not_followed(const Endpoint& server, const Endpoint& other);

// Pure: the findings and summary of a result.
Judgement judge(const StunResult& r, const StunParams& p);

boost::asio::awaitable<Measured<StunResult>> measure(StunParams p, CheckContext& ctx);

// A small table of the NAT's behaviour, from the details alone.
view::View stun_view(const nlohmann::json& details);

}  // namespace callready::checks::stun
