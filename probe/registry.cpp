#include "probe/registry.hpp"

#include "checks/dns/dns_check.hpp"
#include "checks/tcp/tcp_check.hpp"
#include "checks/udp_range/udp_range_check.hpp"
#include "checks/tls/tls_check.hpp"
#include "checks/pmtu/pmtu_check.hpp"
#include "checks/sip_alg/sip_alg_check.hpp"
#include "checks/stun/stun_check.hpp"

namespace callready {

const std::map<std::string, CheckKind>& check_registry() {
  static const std::map<std::string, CheckKind> registry = [] {
    std::map<std::string, CheckKind> m;
    auto add = [&m](CheckKind k) { m.emplace(k.name, std::move(k)); };
    add(checks::dns_check_kind());
    add(checks::tcp_check_kind());
    add(checks::udp_range_check_kind());
    add(checks::tls_check_kind());
    add(checks::sip_alg_check_kind());
    add(checks::pmtu_check_kind());
    add(checks::stun_check_kind());
    return m;
  }();
  return registry;
}

const CheckKind* find_check_kind(const std::string& name) {
  const auto& r = check_registry();
  auto it = r.find(name);
  return it == r.end() ? nullptr : &it->second;
}

}  // namespace callready
