// The replies as a small table: each request's offset and delay, and which
// one the check kept (the lowest delay); every other key renders generically.
#include <fmt/format.h>

#include "checks/ntp/ntp_result.hpp"

namespace callready::checks::ntp {

namespace {

std::string ms_text(const nlohmann::json& sample, const char* key) {
  auto it = sample.find(key);
  return it != sample.end() && it->is_number() ? fmt::format("{:.3f} ms", it->get<double>()) : std::string("-");
}

std::string text_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

view::View ntp_view(const nlohmann::json& details) {
  view::View v;
  auto it = details.find("samples");
  if (it == details.end() || !it->is_array() || it->empty()) return v;
  view::Table t;
  t.caption = "NTP replies (the lowest delay is kept)";
  t.headers = {"request", "reply", "offset", "delay", ""};
  for (const auto& s : *it) {
    if (!s.is_object()) continue;
    bool kept = s.value("kept", false);
    auto kind = text_of(s, "kind");
    auto tone = kind == "sample" ? (kept ? view::Tone::good : view::Tone::plain) : view::Tone::bad;
    t.rows.push_back({{std::to_string(s.value("request", 0) + 1)},
                      {kind, tone},
                      {ms_text(s, "offset_ms"), view::Tone::plain, true},
                      {ms_text(s, "delay_ms"), view::Tone::plain, true},
                      {kept ? "kept" : "", kept ? view::Tone::good : view::Tone::muted}});
  }
  v.blocks.push_back(std::move(t));
  v.shown_keys = {"samples"};
  return v;
}

}  // namespace callready::checks::ntp
