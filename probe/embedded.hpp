#pragma once
// Files embedded into the binary at build time (cmake/Embed.cmake):
// built-in profiles under "profiles/", report templates under "templates/".
#include <optional>
#include <span>
#include <string_view>

namespace callready {

struct EmbeddedFile {
  std::string_view path;  // "<folder>/<file name>", e.g. "profiles/webex-calling.json"
  std::string_view contents;
};

std::span<const EmbeddedFile> embedded_files();

inline std::optional<std::string_view> embedded_file(std::string_view path) {
  for (const auto& f : embedded_files())
    if (f.path == path) return f.contents;
  return std::nullopt;
}

}  // namespace callready
