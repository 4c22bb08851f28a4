#pragma once
// The exporter's own metrics for /metrics: probes run and their outcome,
// refusals, durations, reloads, and the process metrics every Prometheus
// client library exports (CPU, memory, descriptors, start time).
#include <map>
#include <mutex>
#include <string>

#include "reports/prometheus.hpp"

namespace callready::exporter {

class ExporterMetrics {
 public:
  void probe_finished(const std::string& module, bool success, double seconds);
  void request_answered(const std::string& handler, int status);
  void reload(bool ok, std::size_t modules);
  void set_in_flight(int n);
  void add_to(prometheus::Exposition& out, std::size_t background_running) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, double> probes_;    // (module, result) -> count
  std::map<std::string, std::pair<double, double>> durations_;      // module -> (sum, count)
  std::map<std::pair<std::string, std::string>, double> requests_;  // (handler, code) -> count
  double reloads_ok_ = 0, reloads_failed_ = 0, last_reload_ok_ = 1, last_reload_time_ = 0, modules_ = 0;
  int in_flight_ = 0;
};

// Now as Unix time in seconds (timestamps of results and reloads).
double unix_now();

// process_* metrics from /proc/self.
void add_process_metrics(prometheus::Exposition& out);

}  // namespace callready::exporter
