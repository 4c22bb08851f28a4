#include "checks/stun/stun_check.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/stun/nat_behavior.hpp"
#include "checks/stun/stun_client.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/target.hpp"

namespace asio = boost::asio;
using asio::ip::udp;

namespace callready::checks {

namespace {

namespace stun = wire::stun;

struct StunParams {
  std::string host;
  std::uint16_t port = 3478;
  std::string transport = "udp";
  bool nat_discovery = true;

  static StunParams parse(ParamReader& r) {
    StunParams p;
    p.host = r.string("host");
    p.port = r.port_or("port", 3478);
    p.transport = r.choice("transport", {"udp", "tcp"}, "udp");
    p.nat_discovery = r.boolean_or("nat_discovery", true);
    return p;
  }
  std::string target() const {
    auto hp =
        host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
    return hp + "/" + transport;
  }
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// What to open, said the way a firewall administrator writes a rule.
std::string open_rule(const StunParams& p, const std::string& address) {
  return fmt::format("Allow outbound {} {} from this network to {}{} (and its replies) on the firewall",
                     upper(p.transport), p.port, p.host,
                     address.empty() || address == p.host ? "" : " (" + address + ")");
}

void no_answer_finding(CheckOutcome& out, const StunParams& p, const std::string& address, const std::string& what) {
  out.findings.push_back(
      {Severity::critical, "stun.no_response",
       fmt::format("No STUN answer from {} over {} port {}: {}. Webex media needs STUN on UDP 5004 and 9000; without "
                   "it calls fail or lose audio",
                   p.host, upper(p.transport), p.port, what),
       open_rule(p, address) + "; UDP media also needs stateful return traffic allowed", ""});
}

// The RFC 5780 part, when the server offers it and the caller wants it.
asio::awaitable<void> discover_nat(CheckOutcome& out, const StunParams& p, const stun_client::Exchange& first,
                                   const stun::Endpoint& server, CheckContext& ctx) {
  auto& d = out.details;
  const auto* other_attr = first.response.find(stun::attr::other_address);
  auto other = other_attr ? stun::read_address(*other_attr) : std::nullopt;
  if (other) d["other_address"] = stun::to_string(*other);
  if (p.transport == "tcp") {
    d["mapping_behavior"] = d["filtering_behavior"] = "unknown: not tested over TCP (RFC 5780 tests need UDP)";
    co_return;
  }
  if (!p.nat_discovery) {
    d["mapping_behavior"] = d["filtering_behavior"] = "unknown: not tested (nat_discovery is false)";
    co_return;
  }
  if (!other) {
    d["mapping_behavior"] = d["filtering_behavior"] = "unknown: server lacks RFC 5780";
    out.findings.push_back({Severity::info, "stun.no_rfc5780",
                            fmt::format("{} returned no OTHER-ADDRESS, so the NAT's mapping and filtering behaviour "
                                        "cannot be measured against it",
                                        p.target()),
                            "Point the check at an RFC 5780 server (callready respond --alt-address, or coturn with "
                            "two listening IPs) to classify the NAT",
                            ""});
    co_return;
  }
  auto deadline = Clock::now() + ctx.budget(Millis(60000));
  auto local = first.local.address();
  auto r = co_await nat_behavior::discover(local, server, *other, deadline);
  d["mapping_behavior"] = r.mapping;
  d["filtering_behavior"] = r.filtering;
  if (!r.mapping_evidence.empty()) d["mapping_evidence"] = r.mapping_evidence;
  if (!r.filtering_evidence.empty()) d["filtering_evidence"] = r.filtering_evidence;
  if (r.mapping == nat_behavior::kAddressDependent || r.mapping == nat_behavior::kAddressAndPortDependent)
    out.findings.push_back(
        {Severity::warning, "stun.nat_mapping_dependent",
         fmt::format("The NAT gives each destination its own public port ({} mapping, a \"symmetric\" NAT): the "
                     "address learned through STUN does not work for other peers, so direct media (ICE) fails and "
                     "calls fall back to the cloud media relay",
                     r.mapping),
         "Configure endpoint-independent mapping (RFC 4787 REQ-1) for the phones' subnet: on most firewalls a "
         "persistent/static source-port NAT rule for UDP media, and no port randomisation",
         ""});
}

asio::awaitable<CheckOutcome> run_stun(StunParams p, CheckContext& ctx) {
  CheckOutcome out;
  auto& d = out.details;
  d["server"] = p.host;
  d["port"] = p.port;
  d["transport"] = p.transport;
  d["reachable"] = false;
  d["rtt_ms"] = nullptr;
  d["local_address"] = nullptr;
  d["mapped_address"] = nullptr;
  d["nat"] = nullptr;
  d["software"] = nullptr;
  d["alg_suspected"] = nullptr;
  d["other_address"] = nullptr;
  d["mapping_behavior"] = d["filtering_behavior"] = "unknown: no STUN answer";

  auto lookup = co_await net::resolve_target(ctx, "stun", p.host, "reach the STUN server " + p.target());
  if (lookup.failure) {
    out.summary = lookup.failure->message;
    out.findings.push_back(*lookup.failure);
    co_return out;
  }
  stun::Endpoint server(lookup.addresses.front(), p.port);
  d["address"] = server.address().to_string();

  stun_client::Exchange first;
  if (p.transport == "udp") {
    auto local = stun_client::local_address_towards(server);
    if (!local) {
      out.summary = fmt::format("no route to {} ({})", p.target(), server.address().to_string());
      out.findings.push_back({Severity::critical, "stun.no_route",
                              fmt::format("This machine has no route to {} ({})", p.host, server.address().to_string()),
                              "Check the default route / gateway of this network", ""});
      co_return out;
    }
    udp::socket sock(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    udp::endpoint bind_to(*local, 0);
    sock.open(bind_to.protocol(), ec);
    if (!ec) sock.bind(bind_to, ec);
    if (ec) co_return CheckOutcome::failed(ErrorReason::internal, "cannot open a UDP socket: " + ec.message());
    stun_client::Retransmission plan;
    plan.budget = ctx.budget(Millis(39500));
    stun_client::RequestOptions plain;  // named: GCC 12 miscompiles braced temporaries in co_await
    first = co_await stun_client::udp_exchange(sock, server, plain, plan);
  } else {
    auto connect_limit = ctx.budget(Millis(5000));
    auto answer_limit = ctx.budget(Millis(8000));
    first = co_await stun_client::tcp_exchange(server, connect_limit, answer_limit);
  }
  d["requests_sent"] = first.sent;
  if (first.local.port() != 0) d["local_address"] = stun::to_string(first.local);

  if (!first.answered) {
    bool connect_failed = first.error.rfind("connect:", 0) == 0;
    out.summary = fmt::format("no STUN answer from {}: {}", p.target(), first.error);
    if (!first.junk.empty()) {
      out.findings.push_back(
          {Severity::critical, "stun.bad_response",
           fmt::format("{} answered, but not with a valid STUN response: {}", p.target(), first.junk),
           "Check that the port reaches a STUN server and that no middlebox rewrites the packets", ""});
    } else if (connect_failed) {
      out.findings.push_back({Severity::critical, "stun.tcp_connect_failed",
                              fmt::format("Cannot open TCP {} to {} ({}): {}", p.port, p.host,
                                          server.address().to_string(), first.error.substr(9)),
                              open_rule(p, server.address().to_string()), ""});
    } else {
      no_answer_finding(out, p, server.address().to_string(), first.error);
    }
    co_return out;
  }

  const auto& resp = first.response;
  d["reachable"] = true;
  d["rtt_ms"] = first.rtt_ms;
  if (const auto* a = resp.find(stun::attr::software)) d["software"] = stun::read_string(*a);
  if (resp.cls == stun::MessageClass::error) {
    const auto* a = resp.find(stun::attr::error_code);
    auto code = a ? stun::read_error_code(*a) : std::nullopt;
    std::string text = code ? fmt::format("{} {}", code->code, code->reason) : "without an ERROR-CODE";
    out.summary = fmt::format("{} answered with error {}", p.target(), text);
    out.findings.push_back({Severity::warning, "stun.error_response",
                            fmt::format("{} is reachable but refused the Binding request (error {})", p.target(), text),
                            "Check that this is the right STUN server and port for this deployment", ""});
    co_return out;
  }

  const auto* xor_attr = resp.find(stun::attr::xor_mapped_address);
  const auto* plain_attr = resp.find(stun::attr::mapped_address);
  auto xor_mapped = xor_attr ? stun::read_xor_address(*xor_attr, resp.transaction_id) : std::nullopt;
  auto plain_mapped = plain_attr ? stun::read_address(*plain_attr) : std::nullopt;
  auto mapped = xor_mapped ? xor_mapped : plain_mapped;
  if (!mapped) {
    out.summary = fmt::format("{} answered without a mapped address", p.target());
    out.findings.push_back({Severity::warning, "stun.no_mapped_address",
                            fmt::format("{} answered but reported no (XOR-)MAPPED-ADDRESS", p.target()),
                            "Check that this is a STUN server (RFC 5389)", ""});
    co_return out;
  }
  d["mapped_address"] = stun::to_string(*mapped);
  bool nat = *mapped != first.local;
  d["nat"] = nat;

  // An ALG that rewrites addresses in payloads finds MAPPED-ADDRESS but not
  // the XORed copy: the two then disagree (RFC 5389 §15.2's very reason).
  if (xor_mapped && plain_mapped) {
    bool rewritten = *xor_mapped != *plain_mapped;
    d["alg_suspected"] = rewritten;
    if (rewritten)
      out.findings.push_back(
          {Severity::warning, "stun.alg_rewrite",
           fmt::format("A device on the path rewrites addresses inside packets: the server saw {} "
                       "(XOR-MAPPED-ADDRESS) but MAPPED-ADDRESS arrived as {} — an application-layer gateway (ALG)",
                       stun::to_string(*xor_mapped), stun::to_string(*plain_mapped)),
           "Disable the SIP/STUN ALG (\"SIP inspection\", \"fixup\", \"SIP helper\") on the firewall or router; Webex "
           "Calling does not need it and it breaks signalling and media",
           ""});
  }
  if (nat)
    out.findings.push_back({Severity::info, "stun.nat",
                            fmt::format("Traffic is translated (NAT): this machine's {} is seen as {} by {}",
                                        stun::to_string(first.local), stun::to_string(*mapped), p.target()),
                            "", ""});

  co_await discover_nat(out, p, first, server, ctx);

  out.summary = fmt::format("STUN answered from {} in {} ms; mapped address {}{}", p.target(), first.rtt_ms,
                            stun::to_string(*mapped), nat ? " (behind NAT)" : " (no NAT)");
  co_return out;
}

}  // namespace

CheckKind stun_check_kind() { return make_check_kind<StunParams>("stun", Millis(20000), &run_stun); }

}  // namespace callready::checks
