#include "checks/sip_alg/sip_alg_metrics.hpp"

namespace callready::checks {

metrics::Samples sip_alg_metrics(const nlohmann::json& d) {
  return {
      {"callready_sip_alg_detected",
       "1 when a middlebox rewrote the SIP probe (SIP ALG)",
       "",
       {},
       metrics::flag(d, "alg_detected")},
      {"callready_sip_alg_rewritten_fields",
       "SIP headers and SDP lines that arrived changed",
       "",
       {},
       metrics::count(d, "rewritten")},
  };
}

}  // namespace callready::checks
