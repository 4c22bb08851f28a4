#pragma once
// Measurements a kind exposes for monitoring systems, in base units: the
// Prometheus exposition (`callready exporter`) and the Nagios perfdata
// (`scan --format nagios`) are two renderings of the same samples. A kind
// derives them from its details only, like its view.
#include <map>
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

}  // namespace callready::metrics
