#pragma once
// Shared by the dns integration tests (header-only; each test file is its own
// executable): run dns checks through the engine like a scan, against one
// DNS server.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "probe/engine.hpp"
#include "probe/profile.hpp"
#include "probe/registry.hpp"
#include "probe/scoring.hpp"

namespace callready::test {

// Runs the checks of `checks_json` (a JSON list) with `server` as --dns-server.
inline std::vector<CheckRecord> scan_dns(const std::string& checks_json, const std::string& server) {
  std::string text = R"({"name":"dns-test","checks":)" + checks_json + "}";
  REQUIRE(find_check_kind("dns"));
  auto load = load_profile_text(text, "dns-test");
  REQUIRE_MESSAGE(load.profile, (load.errors.empty() ? "" : load.errors[0]));
  auto plan = build_plan(*load.profile, {});
  REQUIRE(plan.plan);
  EngineOptions o;
  o.handle_sigint = false;
  o.dns_server = net::parse_dns_server(server);
  REQUIRE(o.dns_server);
  return make_records(*plan.plan, run_plan(*plan.plan, o));
}

// One dns check of a profile: {"id": id, "kind": "dns", ..., "params": params}.
inline std::string dns_check(const std::string& id, const std::string& params) {
  return R"({"id":")" + id + R"(","kind":"dns","category":"dns","params":)" + params + "}";
}

}  // namespace callready::test
