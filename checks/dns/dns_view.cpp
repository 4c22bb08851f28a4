// The dns kind's picture, from a report's details alone: the answers in the
// order a client tries them, with the SRV targets' own addresses when the
// check resolved them.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "checks/dns/dns_check.hpp"

namespace callready::checks::dns {

namespace {

using nlohmann::json;
using view::Cell;
using view::Tone;

bool listed(const json& list, const json& value) {
  return list.is_array() && std::find(list.begin(), list.end(), value) != list.end();
}

// The addresses the check found for an SRV target, from details.targets.
std::optional<Cell> target_addresses(const json& targets, const std::string& name) {
  if (!targets.is_array()) return std::nullopt;
  for (const auto& t : targets) {
    if (!t.is_object() || t.value("target", "") != name) continue;
    const json& addrs = t.value("addresses", json::array());
    if (!addrs.is_array() || addrs.empty())
      return Cell{t.contains("failure") ? "none (" + view::text(t["failure"]) + ")" : "none", Tone::bad};
    std::vector<std::string> list;
    for (const auto& a : addrs) list.push_back(view::text(a));
    return Cell{fmt::format("{}", fmt::join(list, "\n")), Tone::plain, true, true};
  }
  return std::nullopt;
}

}  // namespace

view::View dns_view(const json& d) {
  view::View v;
  const json& answers = d.value("answers", json::array());
  if (!answers.is_array() || answers.empty()) return v;
  const json& outside = d.value("outside_subnets", json::array());
  view::Table t;
  t.caption = "Answers";
  if (answers.front().is_object()) {  // SRV, in the order a client tries them
    const json& targets = d.value("targets", json());
    bool resolved = targets.is_array();
    t.headers = {"Priority", "Weight", "Port", "Target"};
    if (resolved) t.headers.push_back("Addresses");
    for (const auto& a : answers) {
      if (!a.is_object()) continue;
      std::string target = view::text(a.value("target", json()));
      bool unavailable = target.empty() || target == ".";
      std::vector<Cell> row = {{view::text(a.value("priority", json()))},
                               {view::text(a.value("weight", json()))},
                               {view::text(a.value("port", json()))},
                               {target, unavailable ? Tone::bad : Tone::plain, true}};
      if (resolved) row.push_back(target_addresses(targets, target).value_or(Cell{"\u2014", Tone::muted}));
      t.rows.push_back(std::move(row));
    }
    v.shown_keys = {"answers", "targets"};
  } else {
    t.headers = {d.value("type", "") == "PTR" ? "Name" : "Address"};
    for (const auto& a : answers)
      t.rows.push_back({{view::text(a), listed(outside, a) ? Tone::warn : Tone::plain, true}});
    v.shown_keys = {"answers"};
  }
  v.blocks.push_back(std::move(t));
  return v;
}

}  // namespace callready::checks::dns
