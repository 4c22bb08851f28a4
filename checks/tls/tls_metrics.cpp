#include "checks/tls/tls_metrics.hpp"

#include <ctime>

namespace callready::checks {

namespace {

// "2026-03-01T12:00:00Z" -> seconds since the epoch; NaN when absent or malformed.
double expiry_timestamp(const nlohmann::json& d) {
  auto cert = d.find("certificate");
  if (cert == d.end() || !cert->is_object()) return metrics::not_measured;
  auto it = cert->find("not_after");
  if (it == cert->end() || !it->is_string()) return metrics::not_measured;
  std::tm tm{};
  const char* end = strptime(it->get_ref<const std::string&>().c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return metrics::not_measured;
  return static_cast<double>(timegm(&tm));
}

double version_supported(const nlohmann::json& d, const char* version) {
  auto versions = d.find("versions");
  if (versions == d.end() || !versions->is_object()) return metrics::not_measured;
  auto v = versions->find(version);
  if (v == versions->end() || !v->is_object()) return metrics::not_measured;
  return metrics::flag(*v, "supported");
}

}  // namespace

metrics::Samples tls_metrics(const nlohmann::json& d) {
  metrics::Samples out = {
      {"callready_tls_cert_expiry_timestamp_seconds",
       "When the server certificate expires (Unix time)",
       "",
       {},
       expiry_timestamp(d)},
  };
  for (const char* version : {"tls1.0", "tls1.1", "tls1.2", "tls1.3"})
    out.push_back({"callready_tls_version_supported",
                   "1 when the server accepts this TLS version",
                   "",
                   {{"version", version}},
                   version_supported(d, version)});
  return out;
}

}  // namespace callready::checks
