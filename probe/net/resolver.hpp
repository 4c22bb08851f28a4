#pragma once
// c-ares driven from the Asio loop (STACK.md): one channel, each c-ares socket
// wrapped in a stream_descriptor, one timer from ares_timeout(). Single
// threaded like the channel itself. Every query honours Asio cancellation and
// its own timeout; an abandoned query's late answer is dropped.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace callready::net {

// How a query went, beyond "here is the answer". Each maps to a plain-language finding.
enum class DnsFailure {
  none,          // rcode NOERROR with records
  no_data,       // NOERROR, name exists, no records of that type
  nxdomain,      // the name does not exist
  servfail,      // the server failed to answer (SERVFAIL)
  refused,       // the server refused the query (REFUSED)
  timeout,       // no answer within the time given
  unreachable,   // no server could be contacted (ICMP refused, network down)
  bad_response,  // an answer that did not parse
  bad_name,      // the name is not a valid DNS name
  other,
};
const char* to_string(DnsFailure);

struct DnsServer {
  boost::asio::ip::address address;
  unsigned short port = 53;
};
// "IP" or "IP:PORT" or "[IPv6]:PORT"; nullopt when malformed.
std::optional<DnsServer> parse_dns_server(const std::string& text);

struct DnsResponse {
  DnsFailure failure = DnsFailure::other;
  int rcode = -1;                      // from the header when an answer arrived
  std::vector<unsigned char> message;  // the raw answer
  std::chrono::microseconds rtt{0};
  std::string server;  // which server was asked, for reports
  std::string error;   // c-ares' words when no answer arrived
};

struct HostLookup {
  std::vector<boost::asio::ip::address> addresses;  // IPv4 first, then IPv6
  DnsFailure failure = DnsFailure::none;            // of the lookup as a whole
  std::string message;
};

class Resolver {
 public:
  // With `server`, every query goes there (and /etc/hosts is not read);
  // without, the system's resolv.conf and hosts file apply.
  Resolver(boost::asio::any_io_executor ex, std::optional<DnsServer> server);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // One question (ns_t_a, ns_t_aaaa, ns_t_srv, ns_t_ptr...), the raw answer back.
  boost::asio::awaitable<DnsResponse> query(std::string name, int type, std::chrono::milliseconds timeout);

  // A and AAAA of a host; an IP literal comes back as is.
  boost::asio::awaitable<HostLookup> lookup_host(std::string host, std::chrono::milliseconds timeout);

  // The servers queries go to ("IP:PORT[,...]", the --dns-server or the
  // system's), for a check that must ask one of them itself (DNS over TCP).
  std::string servers() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace callready::net
