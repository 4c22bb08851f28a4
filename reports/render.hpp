#pragma once
// Renderers of the one report model. The CLI only picks a format.
#include <optional>
#include <string>

#include "probe/model.hpp"

namespace callready {

enum class ReportFormat { json, text, html };

// By file extension: .json, .txt, .html/.htm; nullopt otherwise.
std::optional<ReportFormat> format_for_path(const std::string& path);

struct TextOptions {
  bool color = false;
};

std::string render_json(const Report& report);
std::string render_text(const Report& report, const TextOptions& options = {});
std::string render(const Report& report, ReportFormat format, const TextOptions& text_options = {});

// Writes via a temporary file in the same directory and rename(), so a reader
// never sees half a report. Returns an error message, empty on success.
std::string write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace callready
