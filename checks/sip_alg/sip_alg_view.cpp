// The sip_alg check in the HTML report, from its details alone (what the scan
// decided then): the shown request field by field, and one row per request.
#include <algorithm>

#include "checks/sip_alg/sip_alg_check.hpp"

namespace callready::checks {
namespace {

using nlohmann::json;
using view::Cell;
using view::RowChange;
using view::Tone;

// A field one side lacks is an empty cell, not a dash: the diff shows it added or removed.
std::string text_of(const json& v) { return v.is_null() ? std::string() : view::text(v); }

std::string list_text(const json& v) { return v.is_array() ? view::text(v) : "(none)"; }

// Rows in message order ("fields"), then any field only one side has.
std::vector<std::string> field_order(const json& d, const json& sent, const json& received) {
  std::vector<std::string> order;
  auto add = [&order](const std::string& f) {
    if (std::find(order.begin(), order.end(), f) == order.end()) order.push_back(f);
  };
  if (auto it = d.find("fields"); it != d.end() && it->is_array())
    for (const auto& f : *it)
      if (f.is_string()) add(f.get<std::string>());
  for (const json* side : {&sent, &received})
    for (const auto& [k, _] : side->items()) add(k);
  return order;
}

view::Table field_table(const json& d) {
  const json empty = json::object();
  const json& sent = d.contains("sent") && d["sent"].is_object() ? d["sent"] : empty;
  const json& received = d.contains("received") && d["received"].is_object() ? d["received"] : empty;
  view::Table t;
  t.caption = "SIP request as sent and as it arrived, field by field";
  if (auto it = d.find("shown_attempt"); it != d.end() && it->is_string())
    t.caption += " (" + it->get<std::string>() + ")";
  t.headers = {"Field", "Sent", "Received"};
  for (const auto& f : field_order(d, sent, received)) {
    bool l = sent.contains(f), r = received.contains(f);
    std::string a = l ? text_of(sent[f]) : "", b = r ? text_of(received[f]) : "";
    RowChange change = !l ? RowChange::added : !r ? RowChange::removed : a == b ? RowChange::same : RowChange::changed;
    Tone tone = change == RowChange::same ? Tone::plain : Tone::bad;
    t.rows.push_back({Cell{f, Tone::plain, true}, Cell{a, Tone::plain, true, true}, Cell{b, tone, true, true}});
    t.changes.push_back(change);
  }
  return t;
}

Tone outcome_tone(const json& a) {
  std::string outcome = a.value("outcome", "");
  if (outcome == "mirrored") {
    bool changed = a.contains("rewritten") && a["rewritten"].is_array() && !a["rewritten"].empty();
    return changed || a.value("response_via_rewritten", false) ? Tone::bad : Tone::good;
  }
  if (outcome == "no_mirror") return Tone::plain;
  if (outcome == "source_port_busy") return Tone::muted;
  return Tone::warn;
}

view::Table exchange_table(const json& attempts) {
  view::Table t;
  t.caption = "Requests sent to the SIP mirror";
  t.headers = {"Transport", "Source port", "Method", "Outcome", "Rewritten", "Response Via received="};
  for (const auto& a : attempts) {
    if (!a.is_object()) continue;
    std::string outcome = a.value("outcome", "");
    if (a.contains("status")) outcome += " (" + text_of(a["status"]) + ")";
    if (a.contains("error")) outcome += ": " + text_of(a["error"]);
    bool changed = a.contains("rewritten") && a["rewritten"].is_array() && !a["rewritten"].empty();
    bool via = a.value("response_via_rewritten", false);
    t.rows.push_back({Cell{text_of(a.value("transport", json()))},
                      Cell{text_of(a.value("source_port", json())), Tone::plain, true},
                      Cell{text_of(a.value("method", json()))}, Cell{outcome, outcome_tone(a)},
                      Cell{a.contains("rewritten") ? list_text(a["rewritten"]) : "", changed ? Tone::bad : Tone::plain},
                      Cell{text_of(a.value("response_via_received", json())), via ? Tone::bad : Tone::plain, true}});
  }
  return t;
}

}  // namespace

view::View sip_alg_view(const json& details) {
  view::View v;
  if (!details.is_object()) return v;
  bool has_diff = (details.contains("sent") && details["sent"].is_object()) ||
                  (details.contains("received") && details["received"].is_object());
  if (has_diff) {
    v.blocks.push_back(field_table(details));
    v.shown_keys.insert(v.shown_keys.end(), {"sent", "received", "fields", "shown_attempt"});
  }
  if (auto it = details.find("attempts"); it != details.end() && it->is_array() && !it->empty()) {
    v.blocks.push_back(exchange_table(*it));
    v.shown_keys.push_back("attempts");
  }
  return v;
}

}  // namespace callready::checks
