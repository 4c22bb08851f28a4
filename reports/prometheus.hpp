#pragma once
// Prometheus text exposition (format 0.0.4): a small writer of metric
// families, and the rendering of one scored report as the answer to a
// `/probe` scrape. The exporter's own `/metrics` use the same writer.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "probe/metrics.hpp"
#include "probe/model.hpp"

namespace callready {

// What monitoring systems read of a check (the CLI and the exporter pass the registry's).
using MetricsOf = std::function<metrics::Samples(const CheckRecord&)>;

namespace prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Series {
  Labels labels;
  double value = 0;
  std::string suffix;  // "_sum" / "_count" of a summary, else empty
};

struct Family {
  std::string name;
  std::string help;
  std::string type;  // gauge, counter, untyped
  std::vector<Series> series;
};

// Families in first-added order; every series of a family is written under
// its one HELP/TYPE header, as the format demands.
class Exposition {
 public:
  void add(const std::string& name, const std::string& help, const std::string& type, Labels labels, double value);
  // A summary without quantiles: name_sum and name_count under one header.
  void add_summary(const std::string& name, const std::string& help, const Labels& labels, double sum, double count);
  std::string text() const;
  std::size_t series_count() const;

 private:
  std::vector<Family> families_;
  std::map<std::string, std::size_t> index_;
};

// 1, 0.25, NaN, +Inf: what the exposition format accepts, shortest exact form.
std::string format_value(double value);
// Backslash, double quote and line feed escaped as the format requires.
std::string escape_label_value(const std::string& value);

}  // namespace prometheus

struct ProbeExposition {
  MetricsOf metrics;                       // per-kind samples; none when empty
  double probe_duration_s = 0;             // the whole /probe, as blackbox reports it
  std::map<std::string, double> last_run;  // check id -> when its result was measured (Unix time)
};

// The report as a scrape's answer: probe_success, probe_duration_seconds,
// callready_score, the verdict and each check's status one-hot, durations,
// failure reasons (error reasons and finding codes) and the kinds' samples.
void add_report(prometheus::Exposition& out, const Report& report, const ProbeExposition& options);
std::string render_prometheus(const Report& report, const ProbeExposition& options);

}  // namespace callready
