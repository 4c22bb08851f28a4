#pragma once
// The tls check's network operations, each an Asio coroutine with its own
// deadline (a timer raced against the socket operation) that also honours the
// caller's cancellation: TCP connect, a ServerHello-only probe, and a full
// handshake driven through libssl memory BIOs over the Asio socket.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checks/tls/hello.hpp"
#include "probe/clock.hpp"
#include "probe/model.hpp"

namespace callready::checks::tls {

using Clock = callready::Clock;
using tcp = boost::asio::ip::tcp;
using X509Ptr = std::shared_ptr<X509>;
X509Ptr share_x509(X509* borrowed);  // up-refs

// How a connection or a handshake ended when it did not succeed: a socket
// failure (as net::classify sorts it) or a TLS-level one.
enum class Failure {
  none,
  refused,
  timeout,
  unreachable,
  reset,
  closed,
  aborted,
  local,  // this machine's fault (descriptors, permissions): an error, not a finding
  other,
  alert,
  not_tls,
  plain_http,
  tls_error,
};
const char* to_string(Failure);
Failure failure_of(const boost::system::error_code& ec);
// The handshake ended before TLS got going (silence, a reset or close, plain
// HTTP, bytes that are not TLS): nothing more is worth asking that server.
bool ended_before_tls(Failure f);

// What one TCP connect and one handshake of the check may take (each still
// within the check's own budget).
constexpr Millis kConnectTimeout{4000};
constexpr Millis kHandshakeTimeout{6000};

struct Connection {
  std::unique_ptr<tcp::socket> socket;  // null when the connect failed
  Failure failure = Failure::none;
  std::string message;
};
boost::asio::awaitable<Connection> connect_to(tcp::endpoint ep, Clock::time_point deadline);

struct ProbeResult {
  Failure failure = Failure::none;  // none: a ServerHello arrived
  ServerReply reply;
  std::string message;
};
// Connects, sends `hello`, reads until the ServerHello (or an alert) and closes.
boost::asio::awaitable<ProbeResult> probe_hello(tcp::endpoint ep, const Bytes& hello, Clock::time_point deadline);

struct HandshakeOptions {
  std::string sni;          // empty: send no SNI
  std::string verify_name;  // the name the certificate must match
  std::string ca_file;      // extra trust anchors
  std::string client_cert, client_key;
  // What to offer: empty means a broad real client (every suite with a
  // certificate, libssl's signature algorithms, TLS 1.0 and up). Narrowing
  // them asks a server that holds several certificates for one in particular.
  std::string cipher_list;  // TLS 1.2 and below (OpenSSL syntax)
  std::string sigalgs;      // signature_algorithms (OpenSSL syntax)
  int only_version = 0;     // TLS1_2_VERSION, ...: that version alone
};

struct HandshakeResult {
  Failure failure = Failure::none;
  std::string message;
  std::uint8_t alert = 0;                          // alert the server sent, if any
  std::string version;                             // "TLSv1.3"
  std::string cipher;                              // IANA name
  std::vector<X509Ptr> presented;                  // as the server sent it, leaf first
  std::vector<X509Ptr> verified;                   // the chain libssl built to an anchor (may be partial)
  std::vector<std::pair<int, int>> verify_errors;  // X509_V_ERR_*, depth
  bool cert_requested = false;                     // a CertificateRequest arrived
  std::vector<std::string> client_ca_names;
  bool client_cert_sent = false;
  bool got_server_bytes = false;
  // Our own set-up failed (ca_file, client_cert: bad_params; no libssl context: local): not the network.
  std::optional<CheckError> setup_error;
};
// A complete handshake on an already connected socket (which it closes).
boost::asio::awaitable<HandshakeResult> full_handshake(std::unique_ptr<tcp::socket> socket, HandshakeOptions opt,
                                                       Clock::time_point deadline);

}  // namespace callready::checks::tls
