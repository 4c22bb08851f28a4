#include "checks/common/http_proxy.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdlib>

#include "probe/net/async.hpp"
#include "probe/net/cidr.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace callready::checks::http_proxy {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string strip_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

std::uint16_t default_port(const std::string& scheme) { return scheme == "https" ? 443 : 80; }

// "host", "host:port", "[v6]", "[v6]:port" into host and port (0: none given).
bool split_host_port(const std::string& hp, std::string& host, std::uint16_t& port, std::string& error) {
  std::string port_text;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string::npos) return error = "unclosed '[' in the host", false;
    host = hp.substr(1, close - 1);
    std::string rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return error = "unexpected text after ']'", false;
      port_text = rest.substr(1);
    }
    if (!is_ip_literal(host) || host.find(':') == std::string::npos)
      return error = "'" + host + "' is not an IPv6 address", false;
  } else {
    auto colon = hp.rfind(':');
    if (colon != std::string::npos && hp.find(':') != colon)
      return error = "an IPv6 address must be written in brackets", false;
    host = colon == std::string::npos ? hp : hp.substr(0, colon);
    if (colon != std::string::npos) port_text = hp.substr(colon + 1);
  }
  if (host.empty()) return error = "no host", false;
  port = 0;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), ::isdigit))
      return error = "port '" + port_text + "' is not a number", false;
    long v = std::stol(port_text);
    if (v < 1 || v > 65535) return error = "port " + port_text + " is out of range", false;
    port = static_cast<std::uint16_t>(v);
  }
  return true;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

// One NO_PROXY entry against host:port (host already lower case, no trailing dot).
bool entry_matches(std::string entry, const std::string& host, std::uint16_t port) {
  if (entry == "*") return true;
  if (auto cidr = entry.find('/'); cidr != std::string::npos) {
    auto net = net::Cidr::parse(entry);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    return net && !ec && net->contains(addr);
  }
  std::string entry_host;
  std::uint16_t entry_port = 0;
  std::string ignored;
  if (!split_host_port(entry, entry_host, entry_port, ignored)) return false;
  if (entry_port != 0 && entry_port != port) return false;
  entry_host = strip_dot(lower(entry_host));
  if (is_ip_literal(entry_host) || is_ip_literal(host)) {
    boost::system::error_code e1, e2;
    auto a = asio::ip::make_address(entry_host, e1), b = asio::ip::make_address(host, e2);
    return !e1 && !e2 && a == b;
  }
  if (entry_host.rfind("*.", 0) == 0) entry_host.erase(0, 1);
  if (entry_host.front() == '.') return host.size() > entry_host.size() && host.ends_with(entry_host);
  return host == entry_host || host.ends_with("." + entry_host);
}

std::string basic_credentials(const std::string& user, const std::string& password) {
  std::string plain = user + ":" + password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  out.resize(static_cast<std::size_t>(n));
  return "Basic " + out;
}

TunnelResult failed(TunnelFailure f, Operation op, std::string message) {
  TunnelResult r;
  r.failure = f;
  r.operation = op;
  r.message = std::move(message);
  return r;
}

// Sorts a failed write or read of the CONNECT exchange.
TunnelResult exchange_failed(const boost::system::error_code& ec, Operation op, const std::string& proxy) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return failed(TunnelFailure::bad_response, Operation::parse,
                  fmt::format("proxy {} answered CONNECT with a header over {} bytes", proxy, kMaxTunnelHeader));
  if (ec.category() == http::make_error_code(http::error::bad_version).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return failed(
        TunnelFailure::bad_response, Operation::parse,
        fmt::format("proxy {} answered CONNECT with no valid HTTP status line or header: {}", proxy, ec.message()));
  auto nf = net::classify(ec);
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || nf == net::NetFailure::closed ||
      nf == net::NetFailure::reset) {
    TunnelResult r = failed(TunnelFailure::closed, op,
                            fmt::format("proxy {} closed the connection before answering "
                                        "CONNECT",
                                        proxy));
    r.net = nf;
    return r;
  }
  TunnelResult r =
      failed(TunnelFailure::connect, op, fmt::format("CONNECT through proxy {} failed: {}", proxy, ec.message()));
  r.net = nf;
  return r;
}

std::string first_token(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  auto e = s.find_first_of(" \t,", b);
  return std::string(s.substr(b, e == std::string_view::npos ? s.size() - b : e - b));
}

}  // namespace

std::string Url::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string Url::redacted() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string hp = v6 ? "[" + host + "]" : host;
  if (port != default_port(scheme)) hp += ":" + std::to_string(port);
  return scheme + "://" + hp + target;
}

std::optional<Url> parse_url(const std::string& text, std::string& error, const std::string& default_scheme) {
  Url u;
  std::string rest = text;
  auto sep = text.find("://");
  if (sep != std::string::npos) {
    u.scheme = lower(text.substr(0, sep));
    rest = text.substr(sep + 3);
  } else if (!default_scheme.empty()) {
    u.scheme = default_scheme;
  } else {
    error = "'" + text + "' is not an absolute URL (no scheme://)";
    return std::nullopt;
  }
  if (u.scheme != "http" && u.scheme != "https") {
    error = "scheme '" + u.scheme + "' is not supported (http or https)";
    return std::nullopt;
  }
  auto path_at = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, path_at);
  if (path_at != std::string::npos) u.target = rest.substr(path_at);
  if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target.front() != '/') u.target = "/" + u.target;
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    std::string info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon));
    auto pass = percent_decode(colon == std::string::npos ? "" : info.substr(colon + 1));
    if (!user || !pass) {
      error = "bad percent-encoding in the URL's user information";
      return std::nullopt;
    }
    u.username = *user;
    u.password = *pass;
  }
  std::string why;
  if (!split_host_port(authority, u.host, u.port, why)) {
    error = "'" + u.redacted() + "': " + why;
    return std::nullopt;
  }
  if (u.port == 0) u.port = default_port(u.scheme);
  return u;
}

ProxyEnvironment ProxyEnvironment::from_process() {
  return {env("HTTPS_PROXY"), env("https_proxy"), env("HTTP_PROXY"),
          env("http_proxy"),  env("NO_PROXY"),    env("no_proxy")};
}

std::string no_proxy_match(const std::string& no_proxy, const std::string& host, std::uint16_t port) {
  std::string h = strip_dot(lower(host));
  std::string entry;
  auto flush = [&]() -> bool {
    bool hit = !entry.empty() && entry_matches(lower(entry), h, port);
    if (!hit) entry.clear();
    return hit;
  };
  for (char c : no_proxy) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (flush()) return entry;
      continue;
    }
    entry += c;
  }
  return flush() ? entry : "";
}

ProxyChoice choose_proxy(const Url& url, const std::optional<std::string>& param, const ProxyEnvironment& env) {
  ProxyChoice c;
  std::optional<std::string> setting;
  if (param) {
    if (lower(*param) == "direct" || param->empty()) return c;
    setting = param;
    c.source = "params";
  } else {
    bool https = url.scheme == "https";
    const auto& upper = https ? env.https_proxy_upper : env.http_proxy_upper;
    const auto& low = https ? env.https_proxy_lower : env.http_proxy_lower;
    if (upper && !upper->empty()) {
      setting = upper;
      c.source = https ? "HTTPS_PROXY" : "HTTP_PROXY";
    } else if (low && !low->empty()) {
      setting = low;
      c.source = https ? "https_proxy" : "http_proxy";
    }
    if (!setting) return c;
    const auto& np = env.no_proxy_upper && !env.no_proxy_upper->empty() ? env.no_proxy_upper : env.no_proxy_lower;
    if (np) {
      c.exempted_by = no_proxy_match(*np, url.host, url.port);
      if (!c.exempted_by.empty()) {
        c.source.clear();
        return c;
      }
    }
  }
  std::string error;
  auto proxy = parse_url(*setting, error, "http");
  if (!proxy) {
    c.error = fmt::format("proxy setting {}: {}", c.source, error);
  } else if (proxy->scheme != "http") {
    c.error = fmt::format("proxy setting {}: only an http:// proxy (CONNECT in clear) is supported, not {}://",
                          c.source, proxy->scheme);
  } else {
    c.proxy = std::move(proxy);
  }
  return c;
}

const char* to_string(TunnelFailure f) {
  switch (f) {
    case TunnelFailure::none:
      return "none";
    case TunnelFailure::connect:
      return "connect";
    case TunnelFailure::timeout:
      return "timeout";
    case TunnelFailure::closed:
      return "closed";
    case TunnelFailure::auth_required:
      return "auth_required";
    case TunnelFailure::refused:
      return "refused";
    case TunnelFailure::bad_response:
      return "bad_response";
  }
  return "none";
}

asio::awaitable<TunnelResult> open_tunnel(tcp::endpoint proxy_endpoint, Url proxy, std::string target_host,
                                          std::uint16_t target_port, Millis limit) {
  auto ex = co_await asio::this_coro::executor;
  auto deadline = Clock::now() + limit;
  auto left = [&] { return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now())); };
  std::string where = proxy.authority();
  auto socket = std::make_unique<tcp::socket>(ex);

  auto connecting = socket->async_connect(proxy_endpoint, asio::as_tuple(asio::use_awaitable));
  auto connected = co_await net::with_timeout(std::move(connecting), left());
  if (!connected)
    co_return failed(TunnelFailure::timeout, Operation::connect,
                     fmt::format("no TCP connection to proxy {} within {} ms", where, limit.count()));
  if (auto [ec] = *connected; ec) {
    TunnelResult r = failed(TunnelFailure::connect, Operation::connect,
                            fmt::format("cannot connect to proxy {}: {}", where, ec.message()));
    r.net = net::classify(ec);
    co_return r;
  }

  Url target{"http", "", "", target_host, target_port};
  http::request<http::empty_body> req{http::verb::connect, target.authority(), 11};
  req.set(http::field::host, target.authority());
  req.set(http::field::user_agent, "callready");
  bool credentials = !proxy.username.empty();
  if (credentials) req.set(http::field::proxy_authorization, basic_credentials(proxy.username, proxy.password));
  auto writing = http::async_write(*socket, req, asio::as_tuple(asio::use_awaitable));
  auto written = co_await net::with_timeout(std::move(writing), left());
  if (!written)
    co_return failed(TunnelFailure::timeout, Operation::send,
                     fmt::format("could not send CONNECT to proxy {} within {} ms", where, limit.count()));
  if (auto [ec, n] = *written; ec) co_return exchange_failed(ec, Operation::send, where);

  beast::flat_buffer buffer(kMaxTunnelHeader + 1024);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(kMaxTunnelHeader);
  parser.skip(true);  // a 2xx to CONNECT has no body; for the others the header is all we read
  auto reading = http::async_read_header(*socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
  auto read = co_await net::with_timeout(std::move(reading), left());
  if (!read)
    co_return failed(TunnelFailure::timeout, Operation::receive,
                     fmt::format("proxy {} did not answer CONNECT within {} ms", where, limit.count()));
  if (auto [ec, n] = *read; ec) co_return exchange_failed(ec, Operation::receive, where);

  const auto& res = parser.get();
  TunnelResult r;
  r.status = static_cast<int>(res.result_int());
  r.reason = std::string(res.reason());
  r.sent_credentials = credentials;
  if (r.status == 407) {
    r.failure = TunnelFailure::auth_required;
    r.operation = Operation::connect;
    r.auth_scheme = first_token(res[http::field::proxy_authenticate]);
    r.message = fmt::format("proxy {} demands authentication ({} {}{}){}", where, r.status, r.reason,
                            r.auth_scheme.empty() ? "" : ", scheme " + r.auth_scheme,
                            credentials ? " and refused the credentials sent" : "");
    co_return r;
  }
  if (r.status < 200 || r.status > 299) {
    r.failure = TunnelFailure::refused;
    r.operation = Operation::connect;
    r.message = fmt::format("proxy {} refused CONNECT to {}: {} {}", where, target.authority(), r.status, r.reason);
    co_return r;
  }
  if (buffer.size() > 0) {
    r.failure = TunnelFailure::bad_response;
    r.operation = Operation::parse;
    r.message = fmt::format("proxy {} sent {} bytes after its {} to CONNECT, before the client spoke", where,
                            buffer.size(), r.status);
    co_return r;
  }
  r.socket = std::move(socket);
  r.message = fmt::format("tunnel to {} through proxy {}", target.authority(), where);
  co_return r;
}

}  // namespace callready::checks::http_proxy
