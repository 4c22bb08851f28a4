// udp_range's picture: one strip of the tested ports, coloured by state, drawn
// from the report's details alone.
#include <algorithm>

#include "checks/udp_range/udp_range_check.hpp"
#include "probe/net/port_ranges.hpp"

namespace callready::checks {

view::View udp_range_view(const nlohmann::json& d) {
  view::PortStrip strip;
  strip.caption = "UDP ports per tested range";
  // other_answer: the path reaches the port (something other than the responder answers there).
  static const std::pair<const char*, view::PortState> kStates[] = {{"open", view::PortState::open},
                                                                    {"other_answer", view::PortState::open},
                                                                    {"blocked", view::PortState::blocked},
                                                                    {"rejected", view::PortState::rejected},
                                                                    {"untested", view::PortState::untested}};
  for (const auto& [key, state] : kStates) {
    auto it = d.find(key);
    if (it == d.end() || !it->is_array()) continue;
    for (const auto& item : *it) {
      if (!item.is_string()) continue;
      try {
        for (const auto& r : net::parse_port_ranges(item.get<std::string>()))
          strip.spans.push_back({r.first, r.last, state});
      } catch (const std::exception&) {
        // Not a port range (a hand-edited report): left out of the picture.
      }
    }
  }
  view::View v;
  if (strip.spans.empty()) return v;
  std::sort(strip.spans.begin(), strip.spans.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  v.blocks.push_back(std::move(strip));
  v.shown_keys = {"open", "other_answer", "blocked", "rejected", "untested"};
  return v;
}

}  // namespace callready::checks
