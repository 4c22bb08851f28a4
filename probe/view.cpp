#include "probe/view.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace callready::view {

std::string text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_null()) return "\u2014";
  if (v.is_array()) {
    if (v.empty()) return "(none)";
    std::vector<std::string> parts;
    for (const auto& e : v) parts.push_back(e.is_structured() ? e.dump() : text(e));
    return fmt::format("{}", fmt::join(parts, ", "));
  }
  return v.dump();
}

}  // namespace callready::view
