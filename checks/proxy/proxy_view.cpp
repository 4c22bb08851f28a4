// The proxy check in the HTML report, from its details alone: each request to
// the echo (sent head beside the head that arrived), then the targets.
#include "checks/proxy/proxy_check.hpp"

namespace callready::checks {
namespace {

using nlohmann::json;
using view::Cell;
using view::Tone;

std::string text_of(const json& v) { return v.is_null() ? std::string() : view::text(v); }

Tone outcome_tone(const std::string& outcome, bool altered) {
  if (outcome == "ok") return altered ? Tone::bad : Tone::good;
  if (outcome == "not_echo") return Tone::bad;
  return Tone::warn;
}

view::Table exchange_table(const json& exchanges) {
  view::Table t;
  t.caption = "Requests to the responder's HTTP echo: the head sent and the head that arrived";
  t.headers = {"Request", "Outcome", "Sent", "Arrived", "Certificate issuer"};
  for (const auto& e : exchanges) {
    if (!e.is_object()) continue;
    std::string outcome = e.value("outcome", "");
    std::string sent = e.value("sent", "");
    std::string received = e.contains("received") ? text_of(e["received"]) : "";
    std::string issuer;
    if (auto c = e.find("chain"); c != e.end() && c->is_array() && !c->empty()) issuer = (*c)[0].value("issuer", "");
    std::string label =
        e.value("scheme", "") + " port " + text_of(e.value("port", json())) + " (" + e.value("via", "") + ")";
    std::string shown = outcome + (e.contains("message") ? ": " + text_of(e["message"]) : "");
    t.rows.push_back({Cell{label}, Cell{shown, outcome_tone(outcome, received != sent)},
                      Cell{sent, Tone::plain, true, true},
                      Cell{received, !received.empty() && received != sent ? Tone::bad : Tone::plain, true, true},
                      Cell{issuer, Tone::plain, true}});
  }
  return t;
}

view::Table target_table(const json& targets) {
  view::Table t;
  t.caption = "Targets: CONNECT through the proxy (or direct) and the TLS chain each showed";
  t.headers = {"Target", "Via", "Outcome", "CONNECT status", "Issuer", "Expected issuer"};
  for (const auto& x : targets) {
    if (!x.is_object()) continue;
    std::string issuer;
    if (auto c = x.find("chain"); c != x.end() && c->is_array() && !c->empty()) issuer = (*c)[0].value("issuer", "");
    auto expected = x.value("expected_issuer", json());
    std::string outcome = x.value("outcome", "");
    t.rows.push_back({Cell{x.value("target", ""), Tone::plain, true}, Cell{x.value("via", ""), Tone::plain, true},
                      Cell{outcome + (x.contains("message") ? ": " + text_of(x["message"]) : ""),
                           outcome == "ok" ? Tone::good : Tone::warn},
                      Cell{text_of(x.value("connect_status", json()))}, Cell{issuer, Tone::plain, true},
                      Cell{expected.is_boolean() ? (expected.get<bool>() ? "yes" : "no") : "",
                           expected.is_boolean() ? (expected.get<bool>() ? Tone::good : Tone::bad) : Tone::muted}});
  }
  return t;
}

}  // namespace

view::View proxy_view(const json& details) {
  view::View v;
  if (!details.is_object()) return v;
  if (auto it = details.find("exchanges"); it != details.end() && it->is_array() && !it->empty()) {
    v.blocks.push_back(exchange_table(*it));
    v.shown_keys.push_back("exchanges");
  }
  if (auto it = details.find("targets"); it != details.end() && it->is_array() && !it->empty()) {
    v.blocks.push_back(target_table(*it));
    v.shown_keys.push_back("targets");
  }
  return v;
}

}  // namespace callready::checks
