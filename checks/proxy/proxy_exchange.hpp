#pragma once
// The `proxy` kind's network steps, each bounded in time and size: a request
// to the HTTP echo (on a socket, or inside TLS), a TLS handshake that only
// reads the chain, a PAC file fetched (never executed).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "checks/proxy/proxy_result.hpp"
#include "probe/clock.hpp"

namespace callready::checks::proxy {

using Socket = std::unique_ptr<boost::asio::ip::tcp::socket>;

struct Connected {
  Socket socket;  // null when it failed
  StepOutcome outcome = StepOutcome::ok;
  std::string message;
  bool local = false;  // this machine's fault
};
boost::asio::awaitable<Connected> connect_within(boost::asio::ip::tcp::endpoint ep, Millis limit);

// Sends `e.sent` on `socket` (inside TLS with SNI `sni` when e.scheme is
// "https") and fills `e` with what came back. The socket is closed after.
boost::asio::awaitable<void> echo_exchange(Socket socket, std::string sni, EchoExchange& e, Millis limit);

// A TLS handshake on `socket`, SNI `sni`: the chain presented (no
// verification; the judge compares issuers). Fills outcome/message/chain.
boost::asio::awaitable<void> read_chain(Socket socket, std::string sni, TargetProbe& t, Millis limit);

// GET `f.url` (plain http) from `ep` and keep the text.
boost::asio::awaitable<void> fetch_pac(boost::asio::ip::tcp::endpoint ep, std::string host_header, std::string target,
                                       PacFetch& f, Millis limit);

// The "PROXY host:port" directives of a PAC text, in order (read, not run).
std::vector<std::string> pac_proxies(const std::string& text);

}  // namespace callready::checks::proxy
