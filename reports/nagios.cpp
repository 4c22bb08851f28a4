#include "reports/nagios.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace callready {

const char* nagios_state(Verdict verdict) {
  switch (verdict) {
    case Verdict::ready:
      return "OK";
    case Verdict::degraded:
      return "WARNING";
    case Verdict::not_ready:
      return "CRITICAL";
    case Verdict::unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

namespace {

// A label may hold anything but '=' and a quote is doubled (guidelines 2.6).
std::string quote_label(const std::string& label) {
  std::string out = "'";
  for (char c : label) {
    if (c == '=' || c == '\n' || c == '|') continue;
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// "callready_tcp_connect_seconds" -> "tcp_connect": the sample's name without
// the tool prefix and the base-unit suffix the UOM already says.
std::string short_name(std::string name) {
  if (name.starts_with("callready_")) name.erase(0, 10);
  for (std::string suffix : {"_seconds", "_bytes"})
    if (name.ends_with(suffix)) name.erase(name.size() - suffix.size());
  return name;
}

std::string sample_label(const CheckRecord& c, const metrics::Sample& s) {
  std::string label = c.id + "_" + short_name(s.name);
  for (const auto& [k, v] : s.labels) label += "_" + v;
  return label;
}

std::string summary_line(const Report& report) {
  std::vector<std::string> failed, warned;
  for (const auto& c : report.checks) {
    if (c.status == Status::fail || c.status == Status::error) failed.push_back(c.id);
    if (c.status == Status::warn) warned.push_back(c.id);
  }
  auto n = report.checks.size();
  if (!failed.empty()) return fmt::format("{} of {} checks failed: {}", failed.size(), n, fmt::join(failed, ", "));
  if (!warned.empty()) return fmt::format("{} of {} checks warn: {}", warned.size(), n, fmt::join(warned, ", "));
  if (report.verdict == Verdict::unknown) return fmt::format("nothing could be measured ({} checks)", n);
  return fmt::format("all {} checks passed", n);
}

// A check line must stay one line, and a '|' there would start perfdata.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
    else if (c == '|')
      c = '/';
  return text;
}

const char* status_word(Status s) {
  switch (s) {
    case Status::pass:
      return "OK";
    case Status::warn:
      return "WARNING";
    case Status::fail:
      return "CRITICAL";
    case Status::error:
      return "UNKNOWN";
    case Status::skipped:
      return "SKIPPED";
  }
  return "UNKNOWN";
}

// The guidelines allow a value of [-0-9.] only: "2e-05" (what the shortest
// form gives a 20 us lookup) becomes "0.00002", with the same digits.
std::string plain_number(double value) {
  auto text = fmt::format("{}", value);
  auto e = text.find('e');
  if (e == std::string::npos) return text;
  auto mantissa = text.substr(0, e);
  int exponent = std::stoi(text.substr(e + 1));
  int digits =
      static_cast<int>(std::count_if(mantissa.begin(), mantissa.end(), [](char c) { return c >= '0' && c <= '9'; }));
  return fmt::format("{:.{}f}", value, std::max(0, digits - 1 - exponent));
}

}  // namespace

std::string nagios_perfdata(const std::string& label, double value, const std::string& unit, const std::string& min,
                            const std::string& max) {
  std::string shown = std::isfinite(value) ? plain_number(value) + unit : std::string("U");
  auto item = fmt::format("{}={};;;{};{}", quote_label(label), shown, min, max);
  while (item.back() == ';') item.pop_back();  // trailing empty fields may be dropped
  return item;
}

std::string render_nagios(const Report& report, const MetricsOf& metrics) {
  std::vector<std::string> perf{nagios_perfdata("score", report.score, "", "0", "100")};
  for (const auto& c : report.checks) {
    if (!metrics) break;
    for (const auto& s : metrics(c)) perf.push_back(nagios_perfdata(sample_label(c, s), s.value, s.unit, "0", ""));
  }
  std::string out =
      fmt::format("CALLREADY {} - {} | {}\n", nagios_state(report.verdict), summary_line(report), fmt::join(perf, " "));
  for (const auto& c : report.checks)
    out += fmt::format("{} {} ({}, {}): {}\n", status_word(c.status), c.id, c.kind, c.target, one_line(c.summary));
  return out;
}

}  // namespace callready
