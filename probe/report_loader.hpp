#pragma once
// `callready report IN.json`: a saved report is read back only when it holds
// to the schema callready.report/v1 (schema/callready.report.v1.json). The
// rules here are the schema's, in C++: every required key, every enum value
// from the model's own tables, every number finite and in range. Anything
// else is refused with the JSON path, never rendered: an unknown status must
// not read as "pass", nor a missing verdict as "ready".
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/model.hpp"

namespace callready {

struct ReportLoad {
  std::optional<Report> report;
  std::vector<std::string> errors;  // "<origin>: checks[3].status: unknown value \"bogus\" (...)"
};

// The problems a parsed document has against the schema (empty: valid).
std::vector<std::string> validate_report_json(const json& doc);

ReportLoad load_report_text(std::string_view text, const std::string& origin);
ReportLoad load_report_file(const std::string& path);

// The names each enum may take in a report, from model.cpp's tables.
std::vector<std::string> status_names();
std::vector<std::string> severity_names();
std::vector<std::string> verdict_names();
std::vector<std::string> reason_names();
std::vector<std::string> operation_names();  // without "none": no operation is written as null

}  // namespace callready
