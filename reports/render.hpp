#pragma once
// Renderers of the one report model. The CLI only picks a format.
#include <functional>
#include <optional>
#include <string>

#include "probe/model.hpp"
#include "probe/view.hpp"

namespace callready {

enum class ReportFormat { json, text, html };

// By file extension: .json, .txt, .html/.htm; nullopt otherwise.
std::optional<ReportFormat> format_for_path(const std::string& path);

struct TextOptions {
  bool color = false;
};

// How a check's details are drawn in HTML: its kind's view (the CLI passes
// the registry's). Without one every check gets the generic table.
using ViewOf = std::function<view::View(const CheckRecord&)>;

struct RenderOptions {
  TextOptions text;
  ViewOf view;
};

// A duration people read: "340 ms", "12.5 s", "2 min 5 s" (never "0.0 s").
std::string duration_text(long long ms);

// The check of that id in the report, or null.
const CheckRecord* find_check(const Report& report, const std::string& id);

// What a root cause did: "3 checks failed and 8 could not run because of it".
std::string root_cause_effect(const Report& report, const RootCause& cause);

std::string render_json(const Report& report);
std::string render_text(const Report& report, const TextOptions& options = {});
std::string render(const Report& report, ReportFormat format, const RenderOptions& options = {});

// Writes via a temporary file in the same directory and rename(), so a reader
// never sees half a report. Returns an error message, empty on success.
std::string write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace callready
