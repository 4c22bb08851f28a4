#pragma once
// `media_path`: which transport would a call's media take to the responder?
//
// The ladder a client walks when UDP is blocked, in order: UDP echo probes to
// each media port (udp_ports), the echo RFC 4571-framed over TCP (tcp_port),
// the same framed echo inside TLS without SNI (tls_port; the responder's
// self-signed certificate is accepted: this tests the path, not trust), and
// when an explicit proxy applies (the `proxy` param, else HTTPS_PROXY), TLS
// through a CONNECT tunnel of that proxy, as a client with a proxy sends TLS
// media. Where the responder serves STUN rather than the echo on a UDP media
// port or on the TCP port (--stun-ports listen on both), that rung is a STUN
// Binding instead (profiles that also test STUN on the media ports start the
// responder that way); where it serves another TLS service (--https-ports)
// on the TLS port, the TLS rung's answer is the completed handshake. The first step that gets an answer is the path;
// the ladder stops there. Each attempt keeps why it failed (no answer, refused, reset, ICMP unreachable, handshake
// failed, proxy refused with its status), so the report says why every earlier step did not work.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/common/resolve_step.hpp"
#include "probe/check.hpp"

namespace callready::checks {

struct MediaPathParams {
  std::string host;
  std::vector<std::uint16_t> udp_ports = {5004, 9000};
  std::uint16_t tcp_port = 5004;
  std::uint16_t tls_port = 443;
  // An explicit HTTP proxy for the last rung: a URL, or "direct"; absent: HTTPS_PROXY / https_proxy
  // (NO_PROXY honoured), as checks/common/http_proxy.hpp chooses.
  std::optional<std::string> proxy;
  std::optional<std::uint16_t> control_port;

  static MediaPathParams parse(ParamReader& r);
  std::string target() const;
};

enum class PathTransport { udp, tcp, tls };
const char* to_string(PathTransport);

// How one attempt ended.
enum class AttemptResult {
  ok,                // the echo came back
  timeout,           // nothing came back (dropped: blocked without a word)
  refused,           // connection refused (a REJECT with RST, or nothing listening)
  reset,             // reset or closed mid-way (a middlebox cutting the flow)
  unreachable,       // ICMP unreachable (a router's or firewall's REJECT), or no route
  handshake_failed,  // TCP connected but TLS did not complete
  proxy_refused,     // the explicit proxy answered the CONNECT with 407, another status, or garbage
  not_tried,         // an earlier step worked
};
const char* to_string(AttemptResult);

struct PathAttempt {
  PathTransport transport = PathTransport::udp;
  std::uint16_t port = 0;
  AttemptResult result = AttemptResult::not_tried;
  Operation operation = Operation::none;  // the step that failed
  std::string detail;                     // what was seen, in words ("port unreachable from 198.51.100.1")
  std::optional<double> rtt_ms;           // for an answer
  std::string probe = "echo";  // "echo" (--udp/tcp/tls-ports), "stun" (--stun-ports), "handshake" (another TLS service)
  std::string proxy;           // the TLS rung through an explicit proxy: its URL (no credentials)
  int proxy_status = 0;        // the proxy's answer to CONNECT, when it gave one
};

struct MediaPathResult {
  std::string host;
  std::string address;                        // the responder's address tried
  std::optional<TargetAddresses> unresolved;  // when the host did not resolve
  std::vector<PathAttempt> attempts;          // in the order tried
  std::optional<PathTransport> path;          // the first that worked
  std::string proxy;                          // the proxy the last rung went through ("" when none applied)
  std::string proxy_source;                   // where it came from: "params", "HTTPS_PROXY", ...

  const PathAttempt* chosen() const;  // the attempt that worked, if any
};

// The details: host, address, path ("udp"/"tcp"/"tls" or null), proxy (the
// URL the last rung went through, or null), attempts [{transport, port,
// result, rtt_ms; on failure operation, detail; through a proxy: proxy,
// proxy_status}].
void to_json(nlohmann::json& j, const MediaPathResult& r);

// Findings (code, severity, operation):
//   media_path.no_address     critical  resolve (dependency)
//   media_path.udp_partial    info      receive: UDP works on some media ports, not all
//   media_path.tcp_fallback   warning   receive: no UDP; media would fall back to TCP
//   media_path.tls_fallback   warning   receive: no UDP or TCP; media would fall back to TLS
//   media_path.no_path        critical  the last step's operation: nothing worked
Judgement judge_media_path(const MediaPathResult& r, const MediaPathParams& p);

// One row per attempt: transport, port, result, time.
view::View media_path_view(const nlohmann::json& details);

CheckKind media_path_check_kind();

}  // namespace callready::checks
