#include "reports/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace callready {

namespace prometheus {

void Exposition::add(const std::string& name, const std::string& help, const std::string& type, Labels labels,
                     double value) {
  auto [it, added] = index_.try_emplace(name, families_.size());
  if (added) families_.push_back({name, help, type, {}});
  families_[it->second].series.push_back({std::move(labels), value});
}

void Exposition::add_summary(const std::string& name, const std::string& help, const Labels& labels, double sum,
                             double count) {
  add(name, help, "summary", labels, sum);
  families_[index_[name]].series.back().suffix = "_sum";
  add(name, help, "summary", labels, count);
  families_[index_[name]].series.back().suffix = "_count";
}

std::size_t Exposition::series_count() const {
  std::size_t n = 0;
  for (const auto& f : families_) n += f.series.size();
  return n;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

// HELP text escapes only backslash and line feed.
std::string escape_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string Exposition::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, f.type);
    for (const auto& s : f.series) {
      out += f.name + s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < s.labels.size(); ++i)
          out += fmt::format("{}{}=\"{}\"", i ? "," : "", s.labels[i].first, escape_label_value(s.labels[i].second));
        out += '}';
      }
      out += ' ';
      out += format_value(s.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace prometheus

namespace {

constexpr Verdict kVerdicts[] = {Verdict::ready, Verdict::degraded, Verdict::not_ready, Verdict::unknown};
// The states a check that ran can end in, one-hot. A skipped check (a rule
// whose variable the module does not set, or a background check with no
// result yet) did not run: it answers one series, status "skipped", and
// nothing else, so every check costs one series less than a five-way
// one-hot would and sum by (check) of the status is still 1.
constexpr Status kRunStatuses[] = {Status::pass, Status::warn, Status::fail, Status::error};
constexpr const char* kStatusHelp =
    "1 for the check's status (pass, warn, fail, error; skipped alone when it did not run)";

// Why a check did not pass, bounded: its error's reason from the closed list,
// and the codes of its warning and critical findings (one series each).
std::set<std::string> failure_reasons(const CheckRecord& c) {
  std::set<std::string> reasons;
  if (c.error) reasons.insert(to_string(c.error->reason));
  for (const auto& f : c.findings)
    if (f.severity != Severity::info) reasons.insert(f.code);
  return reasons;
}

void add_check(prometheus::Exposition& out, const CheckRecord& c, const ProbeExposition& options) {
  auto status_labels = [&](Status s) {
    return prometheus::Labels{{"check", c.id}, {"kind", c.kind}, {"category", c.category}, {"status", to_string(s)}};
  };
  if (c.status == Status::skipped) {
    out.add("callready_check_status", kStatusHelp, "gauge", status_labels(Status::skipped), 1);
    return;
  }
  for (auto s : kRunStatuses) out.add("callready_check_status", kStatusHelp, "gauge", status_labels(s), c.status == s);
  out.add("callready_check_duration_seconds", "How long the check ran", "gauge", {{"check", c.id}},
          static_cast<double>(c.duration_ms) / 1000);
  if (auto it = options.last_run.find(c.id); it != options.last_run.end())
    out.add("callready_check_last_run_timestamp_seconds", "When the check's result was measured (Unix time)", "gauge",
            {{"check", c.id}}, it->second);
  for (const auto& reason : failure_reasons(c))
    out.add("callready_check_failure_reason",
            "1 per reason the check did not pass: an error reason (timeout, setup, ...) or a finding code", "gauge",
            {{"check", c.id}, {"reason", reason}}, 1);
}

void add_samples(prometheus::Exposition& out, const CheckRecord& c, const metrics::Samples& samples) {
  for (const auto& s : samples) {
    prometheus::Labels labels{{"check", c.id}};
    for (const auto& [k, v] : s.labels) labels.emplace_back(k, v);
    out.add(s.name, s.help, "gauge", std::move(labels), s.value);
  }
}

}  // namespace

void add_report(prometheus::Exposition& out, const Report& report, const ProbeExposition& options) {
  bool calls_work = report.verdict == Verdict::ready || report.verdict == Verdict::degraded;
  out.add("probe_success", "1 when calls work from here (verdict ready or degraded)", "gauge", {}, calls_work ? 1 : 0);
  out.add("probe_duration_seconds", "How long the probe took", "gauge", {}, options.probe_duration_s);
  out.add("callready_score", "Readiness score, 0-100", "gauge", {}, report.score);
  for (auto v : kVerdicts)
    out.add("callready_verdict", "1 for the scan's verdict (ready, degraded, not_ready, unknown)", "gauge",
            {{"verdict", to_string(v)}}, report.verdict == v ? 1 : 0);
  for (const auto& c : report.checks) add_check(out, c, options);
  if (!options.metrics) return;
  for (const auto& c : report.checks)
    if (c.status != Status::skipped) add_samples(out, c, options.metrics(c));
}

std::string render_prometheus(const Report& report, const ProbeExposition& options) {
  prometheus::Exposition out;
  add_report(out, report, options);
  return out.text();
}

}  // namespace callready
