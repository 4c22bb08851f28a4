// The http kind's params. Apart from measure (http_check.cpp), so that what
// reads params and results (the judge, the fuzz target) links without the
// measurement's dependencies.
#include <fmt/format.h>

#include <algorithm>

#include "checks/http/http_check.hpp"

namespace callready::checks::http {

HttpParams HttpParams::parse(ParamReader& r) {
  HttpParams p;
  p.url = r.string("url");
  std::string error;
  if (auto u = http_proxy::parse_url(p.url, error)) {
    p.parsed = *u;
  } else if (!p.url.empty()) {
    r.error("url", error);
  }
  p.method = r.choice("method", {"GET", "HEAD"}, "GET");
  p.max_ttfb_ms = r.integer_or("max_ttfb_ms", 1, 60000, 2000);
  p.allow_redirect = r.boolean_or("allow_redirect", false);
  p.ca_file = r.string_or("ca_file", "");
  p.tries = static_cast<int>(r.integer_or("tries", 1, 10, 3));
  p.proxy = r.opt_string("proxy");
  if (p.proxy && *p.proxy != "direct" && !p.proxy->empty() && !http_proxy::parse_url(*p.proxy, error, "http"))
    r.error("proxy", error);
  p.answer_timeout_ms = r.integer_or("answer_timeout_ms", 100, 60000, std::max<long long>(5000, p.max_ttfb_ms * 2));
  p.max_clock_offset_s = r.integer_or("max_clock_offset_s", 1, 86400, 3);
  p.require_client_cert = r.boolean_or("require_client_cert", false);
  p.srv = r.string_or("srv", "");
  return p;
}

std::string HttpParams::target() const { return parsed.host.empty() ? url : parsed.redacted(); }

}  // namespace callready::checks::http
