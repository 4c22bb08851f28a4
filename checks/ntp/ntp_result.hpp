#pragma once
// The `ntp` kind's data: its params, what a measurement found (NtpResult),
// the pure judge over it, the details written from it and the view of them.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/clock_state.hpp"
#include "checks/common/resolve_step.hpp"
#include "checks/ntp/ntp_client.hpp"
#include "probe/check.hpp"
#include "probe/net/errors.hpp"

namespace callready::checks::ntp {

struct NtpParams {
  std::string host;
  std::uint16_t port = 123;
  int samples = 4;
  // Beyond 1 s one of the two clocks is not synchronised at all: a
  // disciplined clock stays within milliseconds of a good server, and the
  // path's asymmetry bounds the measurement's own error by delay / 2 (well
  // under 1 s on any path a call could use). ntpd steps the clock from 128 ms;
  // 1 s leaves room for a phone that has just booted.
  double max_offset_ms = 1000;
  // RFC 5905's MAXDIST: a client does not synchronise to a server whose root
  // distance exceeds 1.5 s.
  double max_root_distance_ms = 1500;
  // The host need not serve NTP (a web server whose clock is the question):
  // no answer is said as info, an answer is judged as any other.
  bool optional = false;

  static NtpParams parse(ParamReader& r);
  std::string target() const;  // "host:123/udp"
};

struct NtpResult {
  // What was asked.
  std::string server;
  std::uint16_t port = 123;

  // The target did not resolve: what the resolver said.
  std::optional<checks::TargetAddresses> unresolved;
  std::optional<boost::asio::ip::address> address;

  // This machine's clock, as the kernel sees it (adjtimex).
  ClockState local_clock;

  // The exchange: what was sent, every valid reply, and when it ended
  // without one, why (Exchange's failed / failure / error / icmp).
  Exchange exchange;

  bool answered() const { return exchange.answered(); }
  // The reply the report is about: the lowest-delay sample; without one,
  // the first kiss-o'-death, else the first unsynchronised reply.
  const Reply* chosen() const;
  // A kiss-o'-death's code ("RATE", "DENY", "RSTR", ...), when one came.
  std::optional<std::string> kiss_code() const;
  // The chosen reply's reference id: text at stratum 0-1, an address above.
  std::optional<std::string> refid() const;
  // RFC 5905 §11.2 (server part): root delay / 2 + root dispersion, plus
  // this sample's delay / 2.
  std::optional<double> root_distance_ms() const;
  // The server itself answered ICMP port unreachable: nothing listens there.
  bool closed_port() const;
  // "answered", "kiss", "unsynchronised", "rejected", "closed", "silent",
  // "invalid" (only junk came), "no_route", "unresolved".
  std::string outcome() const;
};

void to_json(nlohmann::json& j, const NtpResult& r);

// Pure: the findings and summary of a result.
Judgement judge(const NtpResult& r, const NtpParams& p);

boost::asio::awaitable<Measured<NtpResult>> measure(NtpParams p, CheckContext& ctx);

// The samples as a table: which one was kept and why.
view::View ntp_view(const nlohmann::json& details);

}  // namespace callready::checks::ntp
