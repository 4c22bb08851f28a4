// The NAT's behaviour as a small table; every other key renders generically.
#include "checks/stun/stun_result.hpp"

namespace callready::checks::stun {

namespace {

std::string text_of(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  return it != details.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Endpoint-independent is what direct media wants; a dependent mapping is
// what the judge warns about; unknown is untested.
view::Tone tone_of(const std::string& behaviour, bool mapping) {
  if (behaviour == to_string(Behaviour::endpoint_independent)) return view::Tone::good;
  if (behaviour.empty() || behaviour.rfind("unknown", 0) == 0) return view::Tone::muted;
  return mapping ? view::Tone::warn : view::Tone::plain;
}

}  // namespace

view::View stun_view(const nlohmann::json& details) {
  view::View v;
  auto mapping = text_of(details, "mapping_behavior");
  auto filtering = text_of(details, "filtering_behavior");
  if (mapping.empty() && filtering.empty()) return v;
  view::Table t;
  t.caption = "NAT behaviour (RFC 5780)";
  t.headers = {"", "behaviour", "evidence"};
  t.rows.push_back({{"mapping"}, {mapping, tone_of(mapping, true)}, {text_of(details, "mapping_evidence")}});
  t.rows.push_back({{"filtering"}, {filtering, tone_of(filtering, false)}, {text_of(details, "filtering_evidence")}});
  v.blocks.push_back(std::move(t));
  v.shown_keys = {"mapping_behavior", "filtering_behavior", "mapping_evidence", "filtering_evidence"};
  return v;
}

}  // namespace callready::checks::stun
