#include "checks/sip_alg/sip_alg_probe.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <random>

#include "checks/sip_alg/sip_codec.hpp"

namespace callready::checks::sip_alg {

namespace {
constexpr std::size_t kMinRequestBytes = 900;
// Under a token the mirror answers at most 1.0x: a full answer (headers,
// Via received/rport, the deflated copy) fits this many bytes, which stays
// under RFC 3261 18.1.1's 1300 bytes for UDP.
constexpr std::size_t kMinAuthenticatedRequestBytes = 1280;
std::mt19937_64& rng() {
  static std::mt19937_64 r{std::random_device{}()};
  return r;
}
std::string random_hex(int digits) {
  std::string s;
  for (int i = 0; i < digits; ++i) s += "0123456789abcdef"[rng()() % 16];
  return s;
}
// Media ports: a random even start, then +2 per INVITE, wrapping in 20000-59998.
unsigned short next_media_port() {
  static std::atomic<unsigned> next{20000 + static_cast<unsigned>(rng()() % 20000) * 2 % 40000};
  unsigned p = next.fetch_add(2);
  return static_cast<unsigned short>(20000 + (p - 20000) % 40000);
}
}  // namespace

std::string host_text(const boost::asio::ip::address& a) {
  return a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
}

RequestSpec new_spec(std::string method, std::string transport, boost::asio::ip::address local,
                     unsigned short local_port, boost::asio::ip::address remote, unsigned short remote_port) {
  RequestSpec s;
  s.method = std::move(method);
  s.transport = std::move(transport);
  s.local = local;
  s.local_port = local_port;
  s.remote = remote;
  s.remote_port = remote_port;
  s.call_id = random_hex(16) + "@" + local.to_string();
  s.branch = "z9hG4bK" + random_hex(12);
  s.from_tag = random_hex(8);
  s.media_port = s.method == "INVITE" ? next_media_port() : 0;
  return s;
}

std::string build_request(const RequestSpec& s) {
  std::string local = host_text(s.local), remote = host_text(s.remote);
  std::string lower_transport = s.transport == "TCP" ? "tcp" : "udp";
  sip::Message m;
  m.method = s.method;
  m.uri = s.method == "REGISTER" ? fmt::format("sip:{}:{}", remote, s.remote_port)
                                 : fmt::format("sip:mirror@{}:{}", remote, s.remote_port);
  auto add = [&m](std::string name, std::string value) { m.headers.push_back({std::move(name), std::move(value)}); };
  add("Via", fmt::format("SIP/2.0/{} {}:{};branch={};rport", s.transport, local, s.local_port, s.branch));
  add("Max-Forwards", "70");
  // From carries no port: an ALG that rewrites it adds one (LAB.md), a tell of its own.
  add("From", fmt::format("\"callready\" <sip:probe@{}>;tag={}", local, s.from_tag));
  add("To", s.method == "REGISTER" ? fmt::format("\"callready\" <sip:probe@{}>", remote)
                                   : fmt::format("<sip:mirror@{}>", remote));
  add("Call-ID", s.call_id);
  add("CSeq", fmt::format("{} {}", s.cseq, s.method));
  add("Contact", fmt::format("<sip:probe@{}:{};transport={}>", local, s.local_port, lower_transport));
  add("User-Agent", "callready sip_alg probe");
  add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, UPDATE, INFO");
  add("Supported", "replaces, timer");
  if (s.method == "REGISTER") add("Expires", "60");
  if (s.method == "INVITE") {
    std::string ip = s.local.is_v6() ? "IP6" : "IP4";
    std::string addr = s.local.to_string();
    m.body = fmt::format(
        "v=0\r\no=callready {0} {0} IN {1} {2}\r\ns=callready\r\nc=IN {1} {2}\r\nt=0 0\r\n"
        "m=audio {3} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        1000 + s.media_port, ip, addr, s.media_port);
    add("Content-Type", "application/sdp");
  }
  if (!s.token.empty()) add(sip::kAuthHeader, sip::auth_value(s.token, s.method, s.unix_seconds, random_hex(16)));
  add("Content-Length", "0");  // serialize() writes the real length
  // The mirror answers at most 1.5x a request's size, 1.0x under a token (no
  // amplification, see sip_service.cpp): pad short requests so that theirs
  // fits. Dots deflate to almost nothing, so the pad buys room without
  // growing the mirrored copy.
  auto size = sip::serialize(m).size();
  auto wanted = s.token.empty() ? kMinRequestBytes : kMinAuthenticatedRequestBytes;
  if (size + 32 < wanted) {
    auto pad = wanted - size - std::string_view("X-Callready-Pad: \r\n").size();
    m.headers.insert(m.headers.end() - 1, {"X-Callready-Pad", std::string(std::max<std::size_t>(pad, 1), '.')});
  }
  return sip::serialize(m);
}

std::string build_ack(const RequestSpec& s, const std::string& response_to) {
  std::string local = host_text(s.local), remote = host_text(s.remote);
  sip::Message m;
  m.method = "ACK";
  m.uri = fmt::format("sip:mirror@{}:{}", remote, s.remote_port);
  m.headers = {{"Via", fmt::format("SIP/2.0/{} {}:{};branch={};rport", s.transport, local, s.local_port, s.branch)},
               {"Max-Forwards", "70"},
               {"From", fmt::format("\"callready\" <sip:probe@{}>;tag={}", local, s.from_tag)},
               {"To", response_to},
               {"Call-ID", s.call_id},
               {"CSeq", fmt::format("{} ACK", s.cseq)}};
  return sip::serialize(m);
}

namespace {

// Ordered field -> values of one message: Method, Request-URI, headers, then SDP lines.
std::vector<std::pair<std::string, std::vector<std::string>>> fields(const sip::Message& m) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  auto put = [&out](const std::string& name, const std::string& value) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& f) { return f.first == name; });
    if (it == out.end())
      out.push_back({name, {value}});
    else
      it->second.push_back(value);
  };
  put("Method", m.method);
  put("Request-URI", m.uri);
  for (const auto& h : m.headers) put(sip::canonical_name(h.name), h.value);
  const std::string* type = m.header("Content-Type");
  if (type && type->starts_with("application/sdp")) {
    if (auto sdp = sip::parse_sdp(m.body))
      for (const auto& l : *sdp) put(std::string(1, l.type) + "=", l.value);
    else
      put("body", m.body);
  } else if (!m.body.empty()) {
    put("body", m.body);
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, "\n")); }

}  // namespace

Diff diff_requests(const std::string& sent, const std::string& received) {
  Diff d;
  d.identical = sent == received;
  auto a = sip::parse(sent, true);
  auto b = sip::parse(received, true);
  if (a.status != sip::ParseStatus::ok) return d;  // our own request always parses
  auto fa = fields(a.message);
  for (const auto& [name, values] : fa) {
    d.sent[name] = joined(values);
    d.order.push_back(name);
  }
  if (b.status != sip::ParseStatus::ok) {
    d.received["message"] = received;
    d.order.push_back("message");
    if (!d.identical) d.changes.push_back({"message", sent, received});
    return d;
  }
  auto fb = fields(b.message);
  for (const auto& [name, values] : fb) d.received[name] = joined(values);
  for (const auto& [name, values] : fa) {
    auto it = d.received.find(name);
    std::string got = it == d.received.end() ? std::string() : it->second;
    if (it == d.received.end() || got != d.sent[name]) d.changes.push_back({name, d.sent[name], got});
  }
  for (const auto& [name, values] : fb)
    if (!d.sent.count(name)) {
      d.changes.push_back({name, "", d.received[name]});  // added on the way
      d.order.push_back(name);
    }
  return d;
}

}  // namespace callready::checks::sip_alg
