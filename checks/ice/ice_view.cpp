// The nominated pair and the candidates as a table; the monitoring samples.
#include <fmt/format.h>

#include "checks/ice/ice_check.hpp"

namespace callready::checks {

namespace {

std::string count_of(const nlohmann::json& counts, const char* type) {
  auto it = counts.find(type);
  return it != counts.end() && it->is_number() ? std::to_string(it->get<int>()) : "0";
}

std::string text_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

view::View ice_view(const nlohmann::json& details) {
  view::View v;
  auto local = details.find("candidates"), remote = details.find("remote_candidates");
  if (local == details.end() || !local->is_object()) return v;
  view::Table candidates;
  candidates.caption = "Candidates gathered";
  candidates.headers = {"", "host", "srflx", "prflx", "relay"};
  candidates.rows.push_back({{"this site"},
                             {count_of(*local, "host")},
                             {count_of(*local, "srflx")},
                             {count_of(*local, "prflx")},
                             {count_of(*local, "relay")}});
  if (remote != details.end() && remote->is_object())
    candidates.rows.push_back({{"responder"},
                               {count_of(*remote, "host")},
                               {count_of(*remote, "srflx")},
                               {count_of(*remote, "prflx")},
                               {count_of(*remote, "relay")}});
  v.blocks.push_back(std::move(candidates));
  view::Table pair;
  pair.caption = "Nominated pair";
  auto selected = details.find("selected_pair");
  if (selected != details.end() && selected->is_object()) {
    bool relay = details.value("relay_required", false);
    auto tone = relay ? view::Tone::warn : view::Tone::good;
    pair.rows.push_back(
        {{"local"}, {text_of(*selected, "local_type") + " " + text_of(*selected, "local_address"), tone, true}});
    pair.rows.push_back(
        {{"remote"}, {text_of(*selected, "remote_type") + " " + text_of(*selected, "remote_address"), tone, true}});
    pair.rows.push_back({{"transport"}, {text_of(*selected, "transport")}});
  } else {
    pair.rows.push_back({{"pair"}, {"none: no path for media", view::Tone::bad}});
  }
  v.blocks.push_back(std::move(pair));
  v.shown_keys = {"candidates", "remote_candidates", "selected_pair"};
  return v;
}

metrics::Samples ice_metrics(const nlohmann::json& d) {
  // Whether a pair was nominated is the check's status series (and
  // callready_ice_connect_seconds is NaN without one).
  return {
      {"callready_ice_relay_required",
       "1 when the nominated pair uses a TURN relay",
       "",
       {},
       metrics::flag(d, "relay_required")},
      {"callready_ice_gathering_seconds",
       "Time to gather local candidates",
       "s",
       {},
       metrics::number(d, "gathering_ms", 1000)},
      {"callready_ice_connect_seconds",
       "Time from the candidate exchange to a nominated pair",
       "s",
       {},
       metrics::number(d, "connected_ms", 1000)},
      {"callready_ice_rtt_seconds", "Round trip over the nominated pair", "s", {}, metrics::number(d, "rtt_ms", 1000)},
  };
}

}  // namespace callready::checks
