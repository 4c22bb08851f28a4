#include "checks/dns/dns_records.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fmt/format.h>
#include <netdb.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <vector>

namespace callready::checks::dns {

namespace {

// Skips one (possibly compressed) name; false when it runs past the end.
bool skip_name(const std::vector<unsigned char>& m, std::size_t& pos) {
  char* name = nullptr;
  long enclen = 0;
  if (pos >= m.size() ||
      ares_expand_name(m.data() + pos, m.data(), static_cast<int>(m.size()), &name, &enclen) != ARES_SUCCESS)
    return false;
  ares_free_string(name);
  pos += static_cast<std::size_t>(enclen);
  return pos <= m.size();
}
std::uint16_t u16(const std::vector<unsigned char>& m, std::size_t p) {
  return static_cast<std::uint16_t>(m[p] << 8 | m[p + 1]);
}
}  // namespace

std::optional<std::uint32_t> min_answer_ttl(const std::vector<unsigned char>& m) {
  if (m.size() < 12) return std::nullopt;
  std::size_t qd = u16(m, 4), an = u16(m, 6), pos = 12;
  for (std::size_t i = 0; i < qd; ++i) {
    if (!skip_name(m, pos) || pos + 4 > m.size()) return std::nullopt;
    pos += 4;
  }
  std::optional<std::uint32_t> best;
  for (std::size_t i = 0; i < an; ++i) {
    if (!skip_name(m, pos) || pos + 10 > m.size()) return best;
    std::uint32_t ttl = static_cast<std::uint32_t>(m[pos + 4]) << 24 | m[pos + 5] << 16 | m[pos + 6] << 8 | m[pos + 7];
    std::size_t rdlen = u16(m, pos + 8);
    pos += 10 + rdlen;
    if (pos > m.size()) return best;
    best = best ? std::min(*best, ttl) : ttl;
  }
  return best;
}

DnsAnswers parse_answers(const std::vector<unsigned char>& message, int type) {
  DnsAnswers out;
  const unsigned char* buf = message.data();
  int len = static_cast<int>(message.size());
  int rc = ARES_SUCCESS;
  // c-ares fills at most as many addresses as it is given room for: room for
  // every answer record (ANCOUNT), so that none is cut.
  int room = message.size() >= 12 ? std::max(1, static_cast<int>(u16(message, 6))) : 1;
  if (type == ns_t_a) {
    std::vector<ares_addrttl> ttls(static_cast<std::size_t>(room));
    int n = room;
    rc = ares_parse_a_reply(buf, len, nullptr, ttls.data(), &n);
    if (rc == ARES_SUCCESS)
      for (int i = 0; i < n; ++i) {
        char s[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ttls[i].ipaddr, s, sizeof s);
        out.addresses.emplace_back(s);
      }
  } else if (type == ns_t_aaaa) {
    std::vector<ares_addr6ttl> ttls(static_cast<std::size_t>(room));
    int n = room;
    rc = ares_parse_aaaa_reply(buf, len, nullptr, ttls.data(), &n);
    if (rc == ARES_SUCCESS)
      for (int i = 0; i < n; ++i) {
        char s[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &ttls[i].ip6addr, s, sizeof s);
        out.addresses.emplace_back(s);
      }
  } else if (type == ns_t_srv) {
    ares_srv_reply* srv = nullptr;
    rc = ares_parse_srv_reply(buf, len, &srv);
    if (rc == ARES_SUCCESS)
      for (auto* r = srv; r; r = r->next) out.srv.push_back({r->host, r->port, r->priority, r->weight});
    if (srv) ares_free_data(srv);
  } else if (type == ns_t_ptr) {
    hostent* host = nullptr;
    // c-ares wants the queried address only to fill h_addr; any 4 bytes do.
    unsigned char dummy[4] = {};
    rc = ares_parse_ptr_reply(buf, len, dummy, 4, AF_INET, &host);
    if (rc == ARES_SUCCESS && host) {
      if (host->h_name) out.names.emplace_back(host->h_name);
      for (char** a = host->h_aliases; a && *a; ++a)
        if (std::find(out.names.begin(), out.names.end(), *a) == out.names.end()) out.names.emplace_back(*a);
    }
    if (host) ares_free_hostent(host);
  } else {
    out.error = fmt::format("unsupported record type {}", type);
    return out;
  }
  // ENODATA just means "no records of this type" (already told by the rcode path).
  if (rc != ARES_SUCCESS && rc != ARES_ENODATA) out.error = ares_strerror(rc);
  out.min_ttl = min_answer_ttl(message);
  return out;
}

std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records) {
  std::stable_sort(records.begin(), records.end(), [](const SrvRecord& a, const SrvRecord& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if ((a.weight == 0) != (b.weight == 0)) return b.weight == 0;
    if (a.weight != b.weight) return a.weight > b.weight;
    return a.target < b.target;
  });
  return records;
}

std::string reverse_name(const std::string& name_or_ip) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(name_or_ip, ec);
  if (ec) return name_or_ip;
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    return fmt::format("{}.{}.{}.{}.in-addr.arpa", b[3], b[2], b[1], b[0]);
  }
  auto b = addr.to_v6().to_bytes();
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out += hex[b[i] & 0xf];
    out += '.';
    out += hex[b[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

std::string rcode_name(int rcode) {
  switch (rcode) {
    case 0:
      return "NOERROR";
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return rcode < 0 ? "" : fmt::format("RCODE{}", rcode);
  }
}

}  // namespace callready::checks::dns
