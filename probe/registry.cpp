#include "probe/registry.hpp"

#include "checks/common/udp_echo_service.hpp"
#include "checks/dns/dns_check.hpp"
#include "checks/dscp/dscp_check.hpp"
#include "checks/http/http_check.hpp"
#include "checks/ice/ice_check.hpp"
#include "checks/ice/ice_service.hpp"
#include "checks/media_path/media_path_check.hpp"
#include "checks/media_path/media_path_tls_service.hpp"
#include "checks/media_quality/media_quality_check.hpp"
#include "checks/nat_timeout/nat_timeout_check.hpp"
#include "checks/ntp/ntp_check.hpp"
#include "checks/pmtu/pmtu_check.hpp"
#include "checks/proxy/proxy_check.hpp"
#include "checks/proxy/proxy_echo_service.hpp"
#include "checks/sip_alg/sip_alg_check.hpp"
#include "checks/sip_alg/sip_service.hpp"
#include "checks/stun/stun_check.hpp"
#include "checks/stun/stun_service.hpp"
#include "checks/tcp/tcp_accept_service.hpp"
#include "checks/tcp/tcp_check.hpp"
#include "checks/tls/tls_check.hpp"
#include "checks/udp_range/udp_range_check.hpp"

namespace callready {

const std::map<std::string, CheckKind>& check_registry() {
  static const std::map<std::string, CheckKind> registry = [] {
    std::map<std::string, CheckKind> m;
    for (auto k : {
             checks::dns_check_kind(),
             checks::tcp_check_kind(),
             checks::tls_check_kind(),
             checks::http_check_kind(),
             checks::stun_check_kind(),
             checks::udp_range_check_kind(),
             checks::pmtu_check_kind(),
             checks::sip_alg_check_kind(),
             checks::nat_timeout_check_kind(),
             checks::dscp_check_kind(),
             checks::media_quality_check_kind(),
             checks::ice_check_kind(),
             checks::proxy_check_kind(),
             checks::ntp_check_kind(),
             checks::media_path_check_kind(),
         })
      m.emplace(k.name, std::move(k));
    return m;
  }();
  return registry;
}

const std::vector<respond::ServiceKind>& service_registry() {
  static const std::vector<respond::ServiceKind> registry = {
      checks::udp_echo_service(),   checks::tcp_accept_service(), checks::stun_service(),
      checks::sip_mirror_service(), checks::ice_service(),        checks::http_echo_service(),
      checks::https_echo_service(), checks::tls_echo_service(),
  };
  return registry;
}

const CheckKind* find_check_kind(const std::string& name) {
  const auto& r = check_registry();
  auto it = r.find(name);
  return it == r.end() ? nullptr : &it->second;
}

view::View check_view(const CheckRecord& record) {
  const auto* kind = find_check_kind(record.kind);
  if (!kind || !kind->view || !record.details.is_object()) return {};
  return kind->view(record.details);
}

metrics::Samples check_metrics(const CheckRecord& record) {
  const auto* kind = find_check_kind(record.kind);
  if (!kind || !kind->metrics || !record.details.is_object()) return {};
  return kind->metrics(record.details);
}

}  // namespace callready
