// media_path: every finding code from hand-built ladders (no sockets), the
// details keys of the contract, the params, the view and the metrics; and the
// RFC 4571 framing the TCP and TLS rungs share, with malformed frames.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "checks/common/framed_echo.hpp"
#include "checks/media_path/media_path_check.hpp"
#include "checks/media_path/media_path_metrics.hpp"

using namespace callready;
using namespace callready::checks;

namespace {

PathAttempt attempt(PathTransport t, std::uint16_t port, AttemptResult result, Operation op = Operation::none,
                    std::string detail = {}) {
  PathAttempt a;
  a.transport = t;
  a.port = port;
  a.result = result;
  a.operation = op;
  a.detail = std::move(detail);
  if (result == AttemptResult::ok) a.rtt_ms = 12.5;
  return a;
}

PathAttempt udp_silent(std::uint16_t port) {
  return attempt(PathTransport::udp, port, AttemptResult::timeout, Operation::receive,
                 "no reply to 4 probes in 2000 ms");
}

MediaPathParams params() {
  MediaPathParams p;
  p.host = "198.51.100.10";
  return p;
}

MediaPathResult ladder(std::vector<PathAttempt> attempts) {
  MediaPathResult r;
  r.host = "198.51.100.10";
  r.address = "198.51.100.10";
  r.attempts = std::move(attempts);
  for (const auto& a : r.attempts)
    if (a.result == AttemptResult::ok) {
      r.path = a.transport;
      break;
    }
  return r;
}

const Finding& only_finding(const Judgement& j) {
  REQUIRE(j.findings.size() == 1);
  return j.findings.front();
}

}  // namespace

TEST_CASE("UDP answered on every media port: a pass, no finding") {
  auto r = ladder(
      {attempt(PathTransport::udp, 5004, AttemptResult::ok), attempt(PathTransport::udp, 9000, AttemptResult::ok)});
  auto j = judge_media_path(r, params());
  CHECK(j.findings.empty());
  CHECK(j.summary == "media would take UDP 5004 to 198.51.100.10, 12.5 ms");
}

TEST_CASE("media_path.udp_partial: UDP works, but one media port is blocked") {
  auto r = ladder({udp_silent(5004), attempt(PathTransport::udp, 9000, AttemptResult::ok)});
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.udp_partial");
  CHECK(f.severity == Severity::info);
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("UDP 5004: no answer") != std::string::npos);
  CHECK(f.remediation == "Allow outbound UDP 5004, 9000 to 198.51.100.10");
  CHECK(j.summary.find("UDP 9000") != std::string::npos);
}

TEST_CASE("media_path.tcp_fallback: no UDP port answered, TCP 5004 did") {
  auto r = ladder({udp_silent(5004),
                   attempt(PathTransport::udp, 9000, AttemptResult::unreachable, Operation::receive,
                           "ICMP port unreachable from 203.0.113.1"),
                   attempt(PathTransport::tcp, 5004, AttemptResult::ok)});
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.tcp_fallback");
  CHECK(f.severity == Severity::warning);
  CHECK_FALSE(f.inconclusive);  // the requirement (UDP media) is broken: the rule's remediation applies
  CHECK(f.operation == Operation::receive);
  CHECK(f.message.find("fall back to TCP 5004") != std::string::npos);
  CHECK(f.message.find("UDP 5004: no answer (dropped") != std::string::npos);
  CHECK(f.message.find("UDP 9000: ICMP unreachable") != std::string::npos);
  CHECK(f.message.find("from 203.0.113.1") != std::string::npos);
  CHECK(j.summary ==
        "media would take TCP 5004 to 198.51.100.10, 12.5 ms (fallback: UDP 5004 timeout, UDP 9000 unreachable)");
}

TEST_CASE("media_path.tls_fallback: UDP dropped, TCP refused, TLS 443 answered") {
  auto r = ladder({udp_silent(5004), udp_silent(9000),
                   attempt(PathTransport::tcp, 5004, AttemptResult::refused, Operation::connect,
                           "connect to 198.51.100.10:5004: Connection refused"),
                   attempt(PathTransport::tls, 443, AttemptResult::ok)});
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.tls_fallback");
  CHECK(f.severity == Severity::warning);
  CHECK(f.message.find("fall back to TLS 443") != std::string::npos);
  CHECK(f.message.find("TCP 5004: refused") != std::string::npos);
  CHECK(f.remediation.find("(and TCP 5004)") != std::string::npos);
}

TEST_CASE("media_path.no_path: every rung failed, each with its reason") {
  auto r = ladder({udp_silent(5004), udp_silent(9000),
                   attempt(PathTransport::tcp, 5004, AttemptResult::timeout, Operation::connect,
                           "connect to 198.51.100.10:5004: no answer"),
                   attempt(PathTransport::tls, 443, AttemptResult::handshake_failed, Operation::handshake,
                           "TLS handshake with 198.51.100.10:443 (no SNI): sslv3 alert handshake failure")});
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.no_path");
  CHECK(f.severity == Severity::critical);
  CHECK(f.operation == Operation::handshake);
  for (const char* part : {"UDP 5004: no answer", "UDP 9000: no answer", "TCP 5004: no answer",
                           "TLS 443: the TLS handshake failed", "no SNI"})
    CHECK_MESSAGE(f.message.find(part) != std::string::npos, part);
  CHECK(j.summary == "no media path to 198.51.100.10: UDP, TCP and TLS all failed");
}

TEST_CASE("media_path.no_address: the responder's name did not resolve") {
  MediaPathResult r;
  r.host = "responder.example.test";
  TargetAddresses t;
  t.host = r.host;
  t.failure = net::DnsFailure::nxdomain;
  r.unresolved = t;
  auto p = params();
  p.host = r.host;
  auto j = judge_media_path(r, p);
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.no_address");
  CHECK(f.operation == Operation::resolve);
  CHECK(f.cause.has_value());
}

TEST_CASE("details: path and attempts in the order tried, reasons on failures") {
  auto r = ladder({udp_silent(5004), attempt(PathTransport::tcp, 5004, AttemptResult::ok)});
  nlohmann::json d = r;
  CHECK(d["path"] == "tcp");
  REQUIRE(d["attempts"].size() == 2);
  CHECK(d["attempts"][0]["transport"] == "udp");
  CHECK(d["attempts"][0]["port"] == 5004);
  CHECK(d["attempts"][0]["result"] == "timeout");
  CHECK(d["attempts"][0]["operation"] == "receive");
  CHECK(d["attempts"][0]["rtt_ms"].is_null());
  CHECK(d["attempts"][1]["result"] == "ok");
  CHECK(d["attempts"][1]["rtt_ms"] == 12.5);
  CHECK_FALSE(d["attempts"][1].contains("detail"));
  nlohmann::json none = ladder({udp_silent(5004)});
  CHECK(none["path"].is_null());
}

TEST_CASE("view: one row per rung, the path in the caption") {
  nlohmann::json d = ladder({udp_silent(5004), attempt(PathTransport::tcp, 5004, AttemptResult::ok)});
  auto v = media_path_view(d);
  REQUIRE(v.blocks.size() == 1);
  const auto& t = std::get<view::Table>(v.blocks.front());
  CHECK(t.caption == "Media path: tcp");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][2].text == "timeout");
  CHECK(t.rows[0][2].tone == view::Tone::bad);
  CHECK(t.rows[1][2].tone == view::Tone::good);
  CHECK(media_path_view(nlohmann::json::object()).blocks.empty());
}

TEST_CASE("metrics: one-hot transport and the round trip over it") {
  nlohmann::json d = ladder({udp_silent(5004), attempt(PathTransport::tcp, 5004, AttemptResult::ok)});
  auto samples = media_path_metrics(d);
  REQUIRE(samples.size() == 4);
  std::map<std::string, double> by;
  for (const auto& s : samples) by[s.labels.count("transport") ? s.labels.at("transport") : s.name] = s.value;
  CHECK(by["udp"] == 0);
  CHECK(by["tcp"] == 1);
  CHECK(by["tls"] == 0);
  CHECK(by["callready_media_path_rtt_seconds"] == doctest::Approx(0.0125));
  nlohmann::json none = ladder({udp_silent(5004)});
  for (const auto& s : media_path_metrics(none))
    if (s.labels.count("transport")) CHECK(s.value == 0);
  CHECK(std::isnan(media_path_metrics(nlohmann::json::object()).front().value));
}

TEST_CASE("params: contract defaults, port lists, bad input") {
  auto parse = [](nlohmann::json j, std::vector<ParamError>& errors) {
    ParamReader r(j);
    auto p = MediaPathParams::parse(r);
    r.finish();
    errors = r.errors();
    return p;
  };
  std::vector<ParamError> errors;
  auto p = parse({{"host", "198.51.100.10"}}, errors);
  CHECK(errors.empty());
  CHECK(p.udp_ports == std::vector<std::uint16_t>{5004, 9000});
  CHECK(p.tcp_port == 5004);
  CHECK(p.tls_port == 443);
  CHECK_FALSE(p.proxy);
  p = parse({{"host", "h"}, {"udp_ports", 5004}}, errors);
  CHECK(p.udp_ports == std::vector<std::uint16_t>{5004});
  parse({{"host", "h"}, {"udp_ports", nlohmann::json::array({5004, 70000})}}, errors);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().path == "udp_ports[1]");
  parse({{"host", "h"}, {"udp_ports", nlohmann::json::array()}}, errors);
  CHECK_FALSE(errors.empty());
  parse({{"host", "h"}, {"proxy", "ftp://10.0.0.1:21"}}, errors);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().path == "proxy");
  parse({{"udp_ports", nlohmann::json::array({5004})}}, errors);
  CHECK_FALSE(errors.empty());  // host is required
}

// ---- RFC 4571 framing (2-byte length, then one echo datagram) ----

namespace {

// Writes `bytes` into one end of a socket pair, closes it, and reads one frame from the other.
framed::FrameRead read_from(const std::vector<std::uint8_t>& bytes, std::vector<std::uint8_t>& buffer) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  asio::write(a, asio::buffer(bytes));
  a.shutdown(asio::socket_base::shutdown_send);
  auto f = asio::co_spawn(io, framed::read_frame(b, buffer), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("framing: a request framed and read back decodes, with its length prefix") {
  echo::Request request;
  request.session = 0x1122334455667788ULL;
  request.sequence = 7;
  request.size = 200;
  auto bytes = framed::framed_request(request, "secret");
  REQUIRE(bytes.size() == 202);
  CHECK(bytes[0] == 0x00);
  CHECK(bytes[1] == 200);  // RFC 4571: the length of what follows, big-endian
  std::vector<std::uint8_t> buffer;
  auto f = read_from(bytes, buffer);
  REQUIRE(f.ok());
  CHECK(f.length == 200);
  echo::Request back;
  REQUIRE(echo::decode_request({buffer.data(), f.length}, "secret", back) == echo::DecodeError::none);
  CHECK(back.session == request.session);
  CHECK(back.sequence == 7);
}

TEST_CASE("framing: lengths outside the echo bounds and cut frames are refused") {
  CHECK(framed::length_ok(echo::kMinDatagram));
  CHECK(framed::length_ok(echo::kMaxDatagram));
  CHECK_FALSE(framed::length_ok(echo::kMinDatagram - 1));
  CHECK_FALSE(framed::length_ok(echo::kMaxDatagram + 1));
  CHECK_FALSE(framed::length_ok(0));
  std::vector<std::uint8_t> buffer;
  CHECK(read_from({0x00, 0x0a, 1, 2, 3}, buffer).error == boost::asio::error::invalid_argument);  // 10 bytes
  CHECK(read_from({0xff, 0xff}, buffer).error == boost::asio::error::invalid_argument);           // 65535 bytes
  CHECK(read_from({0x00}, buffer).error == boost::asio::error::eof);                              // half a length
  std::vector<std::uint8_t> cut = {0x00, 0x5c};  // 92 announced, 10 sent
  cut.resize(12, 0xab);
  CHECK(read_from(cut, buffer).error == boost::asio::error::eof);
  // A whole frame of garbage reads fine; decoding rejects it.
  std::vector<std::uint8_t> junk(2 + echo::kMinDatagram, 0x5a);
  junk[0] = 0;
  junk[1] = static_cast<std::uint8_t>(echo::kMinDatagram);
  auto f = read_from(junk, buffer);
  REQUIRE(f.ok());
  echo::Request r;
  CHECK(echo::decode_request({buffer.data(), f.length}, "", r) == echo::DecodeError::bad_magic);
}

TEST_CASE("media_path.tls_fallback through the proxy: the proxy named, and its bottleneck") {
  auto via = attempt(PathTransport::tls, 443, AttemptResult::ok);
  via.proxy = "http://198.18.0.1:3128";
  via.proxy_status = 200;
  auto r = ladder({udp_silent(5004), udp_silent(9000),
                   attempt(PathTransport::tcp, 5004, AttemptResult::timeout, Operation::connect),
                   attempt(PathTransport::tls, 443, AttemptResult::timeout, Operation::connect), via});
  r.proxy = via.proxy;
  r.proxy_source = "HTTPS_PROXY";
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.tls_fallback");
  CHECK(f.message.find("through the proxy http://198.18.0.1:3128") != std::string::npos);
  CHECK(f.message.find("bandwidth bottleneck") != std::string::npos);
  CHECK(j.summary.find("TLS 443 via proxy http://198.18.0.1:3128") != std::string::npos);
  nlohmann::json d = r;
  CHECK(d["proxy"] == "http://198.18.0.1:3128");
  CHECK(d["proxy_source"] == "HTTPS_PROXY");
  CHECK(d["attempts"][4]["proxy"] == "http://198.18.0.1:3128");
  CHECK(d["attempts"][4]["proxy_status"] == 200);
  CHECK_FALSE(d["attempts"][3].contains("proxy"));
}

TEST_CASE("media_path.no_path with the proxy refusing the tunnel: its status named") {
  auto via = attempt(PathTransport::tls, 443, AttemptResult::proxy_refused, Operation::receive,
                     "proxy 198.18.0.1:3128 answered 403 Forbidden");
  via.proxy = "http://198.18.0.1:3128";
  via.proxy_status = 403;
  auto r = ladder({udp_silent(5004), attempt(PathTransport::tcp, 5004, AttemptResult::timeout, Operation::connect),
                   attempt(PathTransport::tls, 443, AttemptResult::timeout, Operation::connect), via});
  auto j = judge_media_path(r, params());
  const auto& f = only_finding(j);
  CHECK(f.code == "media_path.no_path");
  CHECK(f.message.find("TLS 443 via proxy http://198.18.0.1:3128: the proxy refused the tunnel with HTTP 403") !=
        std::string::npos);
  nlohmann::json d = r;
  CHECK(d["attempts"][3]["result"] == "proxy_refused");
  CHECK(d["proxy"].is_null());
}

TEST_CASE("params: proxy is a URL, \"direct\", or absent") {
  for (const char* ok : {"http://proxy.example.test:3128", "proxy.example.test:3128", "direct"}) {
    nlohmann::json j = {{"host", "h"}, {"proxy", ok}};  // ParamReader keeps a reference
    ParamReader r(j);
    auto p = MediaPathParams::parse(r);
    r.finish();
    CHECK_MESSAGE(r.ok(), ok);
    CHECK(p.proxy == std::optional<std::string>(ok));
  }
}
