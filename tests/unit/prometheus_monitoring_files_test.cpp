// The shipped monitoring/ files name only metrics callready writes: every
// `callready_*` and `probe_*` name in the alerting rules and the Grafana
// dashboard is a family of a /probe answer (any kind's samples included) or
// of the exporter's /metrics. A renamed metric fails here, not on a fleet.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "probe/exporter/exporter_metrics.hpp"
#include "probe/registry.hpp"
#include "reports/prometheus.hpp"

using namespace callready;

namespace {

// The families of an exposition: the names its "# TYPE" lines declare.
void add_families(const std::string& text, std::set<std::string>& names) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("# TYPE ")) names.insert(line.substr(7, line.find(' ', 7) - 7));
}

std::set<std::string> written_names() {
  std::set<std::string> names;
  Report report;
  for (const auto& [kind, k] : check_registry()) {
    CheckRecord c;
    c.id = "c-" + kind;
    c.kind = kind;
    c.status = Status::error;
    c.error = CheckError{ErrorReason::timeout, Operation::none, "late"};
    report.checks.push_back(c);
  }
  std::map<std::string, double> last_run{{report.checks.front().id, 1}};
  add_families(render_prometheus(report, {&check_metrics, 1, last_run}), names);
  exporter::ExporterMetrics own;
  own.probe_finished("m", true, 1);
  own.request_answered("/probe", 200);
  prometheus::Exposition metrics;
  own.add_to(metrics, 0);
  exporter::add_process_metrics(metrics);
  add_families(metrics.text(), names);
  return names;
}

std::set<std::string> named_in(const std::string& file) {
  std::ifstream in(std::string(CALLREADY_SOURCE_DIR) + "/monitoring/" + file);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::set<std::string> names;
  auto content = text.str();
  std::regex name(R"(\b(callready|probe)_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(content.begin(), content.end(), name); it != std::sregex_iterator(); ++it)
    names.insert(it->str());
  return names;
}

}  // namespace

TEST_CASE("the alerting rules and the Grafana dashboard name only metrics callready writes") {
  auto written = written_names();
  REQUIRE(written.count("probe_success"));
  REQUIRE(written.count("callready_tcp_connect_seconds"));
  REQUIRE(written.count("callready_exporter_probes_total"));
  for (std::string file : {"callready-alerts.yml", "grafana-dashboard.json"}) {
    auto names = named_in(file);
    MESSAGE(file, ": ", names.size(), " metric names");
    CHECK(names.size() >= 5);
    for (const auto& n : names) CHECK_MESSAGE(written.count(n), file, " names ", n, ", which callready never writes");
  }
}
