// The text summary people read in a terminal: verdict first, then each
// category with its checks, and under every failing check what to change.
#include <fmt/format.h>

#include <algorithm>

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

// A category where no check ran (all errors or skipped) was not tested: a
// score of 0 would read as a failure.
bool nothing_ran(const Report& r, const std::string& category) {
  return std::none_of(r.checks.begin(), r.checks.end(), [&](const CheckRecord& c) {
    return c.category == category && (c.status == Status::pass || c.status == Status::warn || c.status == Status::fail);
  });
}

// "a, b, c" broken into lines of at most `width` columns, each indented.
std::string wrapped_list(const std::vector<std::string>& items, std::size_t indent, std::size_t width = 100) {
  std::string out, line(indent, ' ');
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (line.size() > indent && line.size() + 1 + item.size() > width) {
      out += line + "\n";
      line = std::string(indent, ' ');
    }
    line += (line.size() > indent ? " " : "") + item;
  }
  return out + line + "\n";
}

// The fix a check that found the cause itself gives (checks it stopped have none).
std::string cause_fix(const Report& r, const RootCause& cause) {
  for (const auto& id : cause.checks)
    if (const auto* c = find_check(r, id); c && c->status == Status::fail)
      for (const auto& f : c->findings)
        if (f.severity != Severity::info && !f.remediation.empty()) return f.remediation;
  return {};
}

// Root causes first: the one failure that explains many checks, said once.
std::string root_causes_text(const Report& r, const Palette& p) {
  std::string out;
  for (const auto& cause : r.root_causes) {
    out += fmt::format("\n{} {}: {}\n", p.paint("1;31", "Root cause:"),
                       cause.message.empty() ? cause.code : cause.message, root_cause_effect(r, cause));
    if (auto fix = cause_fix(r, cause); !fix.empty()) out += fmt::format("  fix: {}\n", fix);
    out += wrapped_list(cause.checks, 2);
  }
  return out;
}

// A skip reason several checks share (the `--set responder=...` hint): said
// once, with the checks it would enable. Returns the reasons said here.
std::vector<std::string> shared_skip_reasons(const Report& r) {
  std::vector<std::string> reasons;
  for (const auto& c : r.checks) {
    if (c.status != Status::skipped || c.summary.empty()) continue;
    auto n = std::count_if(r.checks.begin(), r.checks.end(),
                           [&](const CheckRecord& o) { return o.status == Status::skipped && o.summary == c.summary; });
    if (n > 1 && std::find(reasons.begin(), reasons.end(), c.summary) == reasons.end()) reasons.push_back(c.summary);
  }
  return reasons;
}

std::string skipped_text(const Report& r, const std::vector<std::string>& reasons, const Palette& p) {
  std::string out;
  for (const auto& reason : reasons) {
    std::vector<std::string> ids;
    for (const auto& c : r.checks)
      if (c.status == Status::skipped && c.summary == reason) ids.push_back(c.id);
    std::string why = reason.rfind("Skipped: ", 0) == 0 ? reason.substr(9) : reason;
    out += fmt::format("\n{} {}\n", p.paint("1", fmt::format("{} checks skipped:", ids.size())), why);
    out += wrapped_list(ids, 2);
  }
  return out;
}

// The root cause a check is listed under, numbered from 1; 0 when none.
std::size_t cause_number(const Report& r, const std::string& id) {
  for (std::size_t i = 0; i < r.root_causes.size(); ++i) {
    const auto& ids = r.root_causes[i].checks;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return i + 1;
  }
  return 0;
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
  out += fmt::format("Verdict: {}  score {}/100  ({} checks: {} pass, {} warn, {} fail, {} error, {} skipped; {})\n",
                     p.verdict(r.verdict), r.score, r.checks.size(), counts[0], counts[1], counts[2], counts[3],
                     counts[4], duration_text(r.duration_ms));
  if (r.incomplete) out += p.paint("1;35", "INCOMPLETE: " + r.incomplete_reason) + "\n";
  out += root_causes_text(r, p);
  auto shared_skips = shared_skip_reasons(r);
  out += skipped_text(r, shared_skips, p);

  for (const auto& cat : r.categories) {
    auto state = nothing_ran(r, cat.name) ? std::string("not tested")
                                          : fmt::format("{} ({}/100)", verdict_words(cat.verdict), cat.score);
    out += fmt::format("\n{}  {}\n", p.paint("1", cat.name), state);
    for (const auto& c : r.checks) {
      if (c.category != cat.name) continue;
      if (c.status == Status::skipped) {
        bool shared = std::find(shared_skips.begin(), shared_skips.end(), c.summary) != shared_skips.end();
        out += fmt::format("  {} {:<28} {}\n", p.status(c.status), c.id,
                           p.dim(shared ? std::string("(skipped: see above)") : c.summary));
        continue;
      }
      // A check under a root cause: one line, its fix and citation said once above.
      if (auto n = cause_number(r, c.id)) {
        out += fmt::format("  {} {:<28} {}\n", p.status(c.status), c.id,
                           c.status == Status::error
                               ? p.dim(fmt::format("could not run: root cause {} above", n))
                               : fmt::format("{}  {}", c.summary, p.dim(fmt::format("(root cause {} above)", n))));
        continue;
      }
      out +=
          fmt::format("  {} {:<28} {}  {}\n", p.status(c.status), c.id, c.summary, p.dim(duration_text(c.duration_ms)));
      if (c.status == Status::error && c.error && c.error->message != c.summary)
        out += fmt::format("       error ({}): {}\n", with_operation(to_string(c.error->reason), c.error->operation),
                           c.error->message);
      else if (c.status == Status::error && c.error)
        out += fmt::format("       error ({})\n", with_operation(to_string(c.error->reason), c.error->operation));
      for (const auto& f : c.findings) {
        if (f.severity == Severity::info) continue;
        // The summary often is the first finding's message: say it once, and
        // then give no line that would show a severity with no message.
        if (f.message != c.summary) {
          auto tag = f.severity == Severity::critical ? p.paint("31", "critical") : p.paint("33", "warning");
          if (f.operation != Operation::none) tag += fmt::format(" ({})", to_string(f.operation));
          out += fmt::format("       {}: {}\n", tag, f.message);
        }
        if (!f.remediation.empty()) out += fmt::format("         fix: {}\n", f.remediation);
        if (!f.requirement.empty()) out += p.dim(fmt::format("         requirement: {}", f.requirement)) + "\n";
      }
    }
  }
  return out;
}

}  // namespace callready
