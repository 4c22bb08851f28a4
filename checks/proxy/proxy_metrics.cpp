#include "checks/proxy/proxy_check.hpp"

namespace callready::checks {

metrics::Samples proxy_metrics(const nlohmann::json& d) {
  return {
      {"callready_proxy_transparent",
       "1 when a transparent proxy handled the HTTP echo's traffic",
       "",
       {},
       metrics::flag(d, "transparent_proxy")},
      {"callready_proxy_tls_intercepted",
       "1 when TLS to the echo or a target was intercepted",
       "",
       {},
       metrics::flag(d, "tls_intercepted")},
      {"callready_proxy_headers_altered",
       "HTTP request fields added, changed or removed on the way",
       "",
       {},
       metrics::count(d, "headers_added") + metrics::count(d, "headers_changed") +
           metrics::count(d, "headers_removed")},
  };
}

}  // namespace callready::checks
