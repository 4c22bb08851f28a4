// The text summary people read in a terminal: verdict first, then each
// category with its checks, and under every failing check what to change.
#include <fmt/format.h>

#include "reports/render.hpp"

namespace callready {

namespace {

struct Palette {
  bool on;
  std::string paint(const std::string& code, const std::string& text) const {
    return on ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : text;
  }
  std::string status(Status s) const {
    switch (s) {
      case Status::pass:
        return paint("32", "PASS");
      case Status::warn:
        return paint("33", "WARN");
      case Status::fail:
        return paint("1;31", "FAIL");
      case Status::error:
        return paint("35", "ERR ");
      case Status::skipped:
        return paint("2", "SKIP");
    }
    return "?";
  }
  std::string verdict(Verdict v) const {
    switch (v) {
      case Verdict::ready:
        return paint("1;32", "READY");
      case Verdict::degraded:
        return paint("1;33", "DEGRADED");
      case Verdict::not_ready:
        return paint("1;31", "NOT READY");
      case Verdict::unknown:
        return paint("1;35", "UNKNOWN");
    }
    return "?";
  }
  std::string dim(const std::string& t) const { return paint("2", t); }
};

std::string verdict_words(Verdict v) {
  switch (v) {
    case Verdict::ready:
      return "ready";
    case Verdict::degraded:
      return "degraded";
    case Verdict::not_ready:
      return "not ready";
    case Verdict::unknown:
      return "unknown";
  }
  return "unknown";
}

// "setup, control": why a check could not test, and the step that failed.
std::string with_operation(std::string what, Operation op) {
  if (op != Operation::none) what += std::string(", ") + to_string(op);
  return what;
}

}  // namespace

std::string render_text(const Report& r, const TextOptions& options) {
  Palette p{options.color};
  std::string out;
  int counts[5] = {};
  for (const auto& c : r.checks) counts[static_cast<int>(c.status)]++;
  out += fmt::format("callready {} · profile {} · {} · {}\n", r.tool_version, r.profile.name, r.site.hostname,
                     r.started_at);
  out +=
      fmt::format("Verdict: {}  score {}/100  ({} checks: {} pass, {} warn, {} fail, {} error, {} skipped; {:.1f} s)\n",
                  p.verdict(r.verdict), r.score, r.checks.size(), counts[0], counts[1], counts[2], counts[3], counts[4],
                  r.duration_ms / 1000.0);
  if (r.incomplete) out += p.paint("1;35", "INCOMPLETE: " + r.incomplete_reason) + "\n";

  std::vector<std::string> needs;
  for (const auto& cat : r.categories) {
    out += fmt::format("\n{}  {} ({}/100)\n", p.paint("1", cat.name), verdict_words(cat.verdict), cat.score);
    for (const auto& c : r.checks) {
      if (c.category != cat.name) continue;
      if (c.status == Status::skipped) {
        out += fmt::format("  {} {:<28} {}\n", p.status(c.status), c.id, p.dim(c.summary));
        continue;
      }
      out += fmt::format("  {} {:<28} {}  {}\n", p.status(c.status), c.id, c.summary,
                         p.dim(fmt::format("{} ms", c.duration_ms)));
      if (c.status == Status::error && c.error)
        out += fmt::format("       error ({}): {}\n", with_operation(to_string(c.error->reason), c.error->operation),
                           c.error->message);
      for (const auto& f : c.findings) {
        if (f.severity == Severity::info) continue;
        // The summary often is the first finding's message: say it once.
        auto tag = f.severity == Severity::critical ? p.paint("31", "critical") : p.paint("33", "warning");
        if (f.operation != Operation::none) tag += fmt::format(" ({})", to_string(f.operation));
        if (f.message == c.summary)
          out += fmt::format("       {}\n", tag);
        else
          out += fmt::format("       {}: {}\n", tag, f.message);
        if (!f.remediation.empty()) out += fmt::format("         fix: {}\n", f.remediation);
        if (!f.requirement.empty()) out += p.dim(fmt::format("         requirement: {}", f.requirement)) + "\n";
      }
    }
  }
  return out;
}

}  // namespace callready
