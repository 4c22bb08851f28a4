#include "reports/render.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "reports/html_report.hpp"

namespace callready {

std::optional<ReportFormat> format_for_path(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == ".json") return ReportFormat::json;
  if (ext == ".txt" || ext == ".text") return ReportFormat::text;
  if (ext == ".html" || ext == ".htm") return ReportFormat::html;
  return std::nullopt;
}

std::string duration_text(long long ms) {
  if (ms < 1) return "< 1 ms";  // "0 ms" would read as nothing measured
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{} min {} s", ms / 60'000, (ms % 60'000) / 1000);
}

const CheckRecord* find_check(const Report& report, const std::string& id) {
  for (const auto& c : report.checks)
    if (c.id == id) return &c;
  return nullptr;
}

std::string root_cause_effect(const Report& report, const RootCause& cause) {
  std::size_t stopped = 0, failed = 0;
  for (const auto& id : cause.checks)
    if (const auto* c = find_check(report, id)) (c->status == Status::error ? stopped : failed)++;
  auto checks = [](std::size_t n) { return fmt::format("{} check{}", n, n == 1 ? "" : "s"); };
  if (failed && stopped) return fmt::format("{} failed and {} could not run because of it", checks(failed), stopped);
  if (failed) return checks(failed) + " failed because of it";
  return checks(stopped) + " could not run because of it";
}

std::string render(const Report& report, ReportFormat format, const RenderOptions& options) {
  switch (format) {
    case ReportFormat::json:
      return render_json(report);
    case ReportFormat::text:
      return render_text(report, options.text);
    case ReportFormat::html:
      return render_html(report, options.view);
  }
  return {};
}

std::string write_file_atomically(const std::string& path, const std::string& contents) {
  auto target = std::filesystem::path(path);
  auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return path + ": cannot create a file in " + dir.string() + ": " + std::strerror(errno);
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = path + ": write failed: " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      return err;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return path + ": write failed: " + std::strerror(errno);
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    std::string err = path + ": cannot rename into place: " + std::strerror(errno);
    ::unlink(tmpl.c_str());
    return err;
  }
  return {};
}

}  // namespace callready
