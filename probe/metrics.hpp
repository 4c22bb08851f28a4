#pragma once
// Measurements a kind exposes for monitoring systems, in base units: the
// Prometheus exposition (`callready exporter`) and the Nagios perfdata
// (`scan --format nagios`) are two renderings of the same samples. A kind
// derives them from its details only, like its view, and always returns the
// same series (NaN when a value was not measured), so a module's series count
// does not depend on what happened.
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace callready::metrics {

struct Sample {
  std::string name;                           // Prometheus name, e.g. "callready_tcp_connect_seconds"
  std::string help;                           // the HELP line
  std::string unit;                           // Nagios UOM for the value: "s", "B", "%", "c" or "" (a plain number)
  std::map<std::string, std::string> labels;  // besides `check`, which the renderer adds
  double value = 0;                           // NaN: not measured (Nagios "U")
};
using Samples = std::vector<Sample>;

inline constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

// details[key] as a number divided by `per` (1000 for ms -> s); NaN when absent or not a number.
inline double number(const nlohmann::json& details, const char* key, double per = 1) {
  auto it = details.find(key);
  if (it == details.end() || !it->is_number()) return not_measured;
  return it->get<double>() / per;
}

// details[key] as 1/0; NaN when absent or not a bool.
inline double flag(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  if (it == details.end() || !it->is_boolean()) return not_measured;
  return it->get<bool>() ? 1 : 0;
}

// details[key] (an array) as its length; NaN when absent.
inline double count(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  if (it == details.end() || !it->is_array()) return not_measured;
  return static_cast<double>(it->size());
}

}  // namespace callready::metrics
