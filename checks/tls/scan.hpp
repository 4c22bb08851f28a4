#pragma once
// Cipher enumeration: which versions a server speaks and every suite it
// accepts in each, in N + 1 handshakes for N accepted suites: offer every
// suite not yet found, take the server's pick, until it refuses (the first
// offer tells whether the version is spoken at all); one more, offering the
// accepted suites reversed, tells whether the order found is the server's.
// The versions run side by side (within `max_parallel`), with optional pacing.
#include <boost/asio/awaitable.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/tls/hello.hpp"
#include "checks/tls/wire.hpp"
#include "probe/check.hpp"

namespace callready::checks::tls {

struct ScanOptions {
  std::vector<TlsVersion> versions;
  std::string sni;  // empty: no SNI
  int max_parallel = 16;
  Millis pace{0};
  Millis probe_timeout{5000};
};

struct VersionResult {
  bool tested = false;  // a ClientHello could be built and the probe got an answer
  bool supported = false;
  std::string probe_failure;              // why the version probe got no ServerHello
  std::vector<std::uint16_t> accepted;    // server order when enforced, else catalogue order
  std::optional<bool> server_order;       // nullopt: fewer than two suites, or not determined
  std::vector<std::string> inconclusive;  // suites whose probe got no usable answer
  std::string untestable_reason;          // set when no ClientHello could be built
  // The full offer got no answer but a small one did: something on the path
  // drops large ClientHellos, so the suites were offered in small groups
  // (their relative order across groups is unknown).
  bool large_hello_intolerant = false;
  std::size_t refused_hello_bytes = 0;  // the size that was dropped, when so
};

struct ScanResult {
  std::map<TlsVersion, VersionResult> versions;
  int connections = 0;
  bool out_of_time = false;   // the check's deadline stopped enumeration early
  std::string local_failure;  // a probe failed on this machine (descriptors, permissions)
};

boost::asio::awaitable<ScanResult> scan_suites(tcp::endpoint ep, ScanOptions opt, CheckContext& ctx);

}  // namespace callready::checks::tls
