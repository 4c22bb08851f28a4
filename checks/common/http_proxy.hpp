#pragma once
// Explicit HTTP proxies, for every kind that opens a TCP connection a browser
// or an app would send through one (http, proxy, the media path's TLS step).
//
//   parse_url       "http://user:pw@host:port/path" into its parts
//   choose_proxy    which proxy applies to a URL: the check's `proxy` param
//                   first, then HTTPS_PROXY/https_proxy (https URLs) or
//                   HTTP_PROXY/http_proxy (http URLs), unless NO_PROXY/no_proxy
//                   exempts the host
//   open_tunnel     an HTTP CONNECT tunnel (RFC 9110 § 9.3.6) through the
//                   proxy: the connected socket, or why not (407 with the
//                   scheme the proxy demands, another status, a malformed or
//                   oversized answer, silence)
//
// NO_PROXY follows Go's net/http rules (the most precisely written down):
// entries separated by commas or spaces; "*" exempts everything; "example.com"
// exempts example.com and every name under it; ".example.com" only names
// under it; "*.example.com" is the same as ".example.com"; "host:port" only
// that port; an IP literal exempts that address and a CIDR prefix its range.
// Names compare case-insensitively, a trailing dot ignored.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "probe/clock.hpp"
#include "probe/model.hpp"
#include "probe/net/errors.hpp"

namespace callready::checks::http_proxy {

// An absolute URL as far as these kinds need one.
struct Url {
  std::string scheme;              // lower case: "http", "https"
  std::string username, password;  // userinfo, percent-decoded
  std::string host;                // without brackets for an IPv6 literal
  std::uint16_t port = 0;          // the explicit port, else the scheme's default
  std::string target = "/";        // path and query, as written ("/" when empty)

  // "host:port", brackets around an IPv6 literal: the CONNECT request target.
  std::string authority() const;
  // The URL without its userinfo (what a report may show).
  std::string redacted() const;
};

// nullopt with `error` set when `text` is not an absolute http/https URL.
// `default_scheme` is assumed when the text has no "scheme://" (proxy
// variables are often written "host:3128").
std::optional<Url> parse_url(const std::string& text, std::string& error, const std::string& default_scheme = "");

// The proxy variables of an environment (the process's, or a test's table).
struct ProxyEnvironment {
  std::optional<std::string> https_proxy_upper, https_proxy_lower, http_proxy_upper, http_proxy_lower;
  std::optional<std::string> no_proxy_upper, no_proxy_lower;
  static ProxyEnvironment from_process();
};

// What applies to one URL.
struct ProxyChoice {
  std::optional<Url> proxy;  // set: connect through it
  std::string source;        // where it came from: "params", "HTTPS_PROXY", "https_proxy", ...; "" when none
  std::string exempted_by;   // the NO_PROXY entry that sent the URL direct, if one did
  std::string error;         // the proxy setting is unusable (bad URL, unsupported scheme); nothing applies
};

// `param` is the check's own `proxy` param: a URL, or "direct" (ignore the
// environment); nullopt: consult the environment.
ProxyChoice choose_proxy(const Url& url, const std::optional<std::string>& param, const ProxyEnvironment& env);

// The NO_PROXY entry in `no_proxy` exempting host:port, or "" when none does.
std::string no_proxy_match(const std::string& no_proxy, const std::string& host, std::uint16_t port);

enum class TunnelFailure {
  none,
  connect,        // could not reach the proxy itself (see `net`)
  timeout,        // the proxy said nothing (complete) in time
  closed,         // the proxy closed the connection before answering
  auth_required,  // 407 Proxy Authentication Required
  refused,        // another non-2xx status (403 by policy, 502 cannot reach the target, ...)
  bad_response,   // no status line, malformed, a header over the limit, bytes after a 200
};
const char* to_string(TunnelFailure);

struct TunnelResult {
  std::unique_ptr<boost::asio::ip::tcp::socket> socket;  // the tunnel; null unless failure == none
  TunnelFailure failure = TunnelFailure::none;
  net::NetFailure net = net::NetFailure::other;  // with `connect`: how the connection failed
  Operation operation = Operation::none;         // the step that failed
  int status = 0;                                // the proxy's status code, when it answered
  std::string reason;                            // its reason phrase
  std::string auth_scheme;        // with 407: the first scheme of Proxy-Authenticate ("Basic", "Negotiate", ...)
  bool sent_credentials = false;  // Basic credentials from the proxy URL went with the request
  std::string message;            // one line for people
};

// Largest CONNECT answer header accepted.
constexpr std::size_t kMaxTunnelHeader = 16 * 1024;

// Connects to `proxy_endpoint` (the resolved address of `proxy.host`), asks
// for a tunnel to `target_host:target_port` (Basic auth when the proxy URL has
// a username) and reads the answer, all within `limit`.
boost::asio::awaitable<TunnelResult> open_tunnel(boost::asio::ip::tcp::endpoint proxy_endpoint, Url proxy,
                                                 std::string target_host, std::uint16_t target_port, Millis limit);

}  // namespace callready::checks::http_proxy
