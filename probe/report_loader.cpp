#include "probe/report_loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "probe/input_limits.hpp"

namespace callready {

namespace {

// Every value of an enum class in declaration order: model.cpp's to_string
// answers its table's first name for a value past the end, a name already seen.
template <class E>
std::vector<std::string> enum_names(bool skip_first = false) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    std::string name = to_string(static_cast<E>(i));
    if (std::find(out.begin(), out.end(), name) != out.end()) break;
    out.push_back(name);
  }
  if (skip_first) out.erase(out.begin());
  return out;
}

constexpr double kMaxDurationMs = 9007199254740991.0;  // 2^53 - 1: exact in every JSON reader

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

class ReportRules {
 public:
  std::vector<std::string> errors;

  void report(const json& doc) {
    if (!object(doc, "")) return;
    if (auto* s = required(doc, "", "schema"); s && !(s->is_string() && *s == "callready.report/v1"))
      fail("schema", "expected \"callready.report/v1\"");
    if (auto* t = required(doc, "", "tool"); t && object(*t, "tool")) {
      text(*t, "tool", "name", true);
      text(*t, "tool", "version", true);
    }
    if (auto* p = required(doc, "", "profile"); p && object(*p, "profile")) {
      text(*p, "profile", "name", true);
      text(*p, "profile", "description", false);
      if (auto* v = optional(*p, "variables"); v && object(*v, "profile.variables"))
        for (const auto& [k, value] : v->items())
          if (!value.is_string()) fail("profile.variables." + escape_for_message(k), "expected a string");
    }
    if (auto* s = optional(doc, "site"); s && object(*s, "site")) {
      text(*s, "site", "hostname", false);
      text(*s, "site", "public_address", false);
      strings(*s, "site", "local_addresses", false);
    }
    text(doc, "", "started_at", true);
    text(doc, "", "finished_at", true);
    number(doc, "", "duration_ms", 0, kMaxDurationMs, true);
    choice(doc, "", "verdict", verdict_names(), true);
    number(doc, "", "score", 0, 100, true);
    boolean(doc, "", "incomplete", false);
    text(doc, "", "incomplete_reason", false);
    each(doc, "", "categories", true, [&](const json& c, const std::string& path) {
      text(c, path, "name", true);
      number(c, path, "score", 0, 100, true);
      choice(c, path, "verdict", verdict_names(), true);
    });
    each(doc, "", "root_causes", false, [&](const json& c, const std::string& path) {
      text(c, path, "code", true);
      text(c, path, "message", true);
      strings(c, path, "checks", true);
    });
    each(doc, "", "checks", true, [&](const json& c, const std::string& path) { check(c, path); });
  }

 private:
  static std::string at(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void fail(const std::string& path, const std::string& message) {
    errors.push_back(fmt::format("{}: {}", path.empty() ? "(top level)" : path, message));
  }

  bool object(const json& j, const std::string& path) {
    if (j.is_object()) return true;
    fail(path, "expected an object");
    return false;
  }

  const json* optional(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  const json* required(const json& obj, const std::string& path, const char* key) {
    const json* v = optional(obj, key);
    if (!v) fail(at(path, key), "required");
    return v;
  }

  const json* field(const json& obj, const std::string& path, const char* key, bool needed) {
    return needed ? required(obj, path, key) : optional(obj, key);
  }

  void text(const json& obj, const std::string& path, const char* key, bool needed) {
    if (auto* v = field(obj, path, key, needed); v && !v->is_string()) fail(at(path, key), "expected a string");
  }

  void boolean(const json& obj, const std::string& path, const char* key, bool needed) {
    if (auto* v = field(obj, path, key, needed); v && !v->is_boolean()) fail(at(path, key), "expected true or false");
  }

  void strings(const json& obj, const std::string& path, const char* key, bool needed) {
    auto* v = field(obj, path, key, needed);
    if (!v) return;
    if (!v->is_array()) return fail(at(path, key), "expected a list of strings");
    for (std::size_t i = 0; i < v->size(); ++i)
      if (!(*v)[i].is_string()) fail(fmt::format("{}[{}]", at(path, key), i), "expected a string");
  }

  // An integer in [min, max]: 5 and 5.0 are, 5.5, 1e300 and -1 are not.
  void number(const json& obj, const std::string& path, const char* key, double min, double max, bool needed) {
    auto* v = field(obj, path, key, needed);
    if (!v) return;
    double d = v->is_number() ? v->get<double>() : NAN;
    if (!std::isfinite(d) || d != std::floor(d) || d < min || d > max)
      fail(at(path, key), fmt::format("expected an integer {}-{}", min, max));
  }

  void choice(const json& obj, const std::string& path, const char* key, const std::vector<std::string>& names,
              bool needed, bool nullable = false) {
    auto* v = field(obj, path, key, needed);
    if (!v || (nullable && v->is_null())) return;
    if (v->is_string())
      for (const auto& n : names)
        if (v->get_ref<const std::string&>() == n) return;
    fail(at(path, key), fmt::format("unknown value {} (expected {}{})", escape_for_message(v->dump()), join(names),
                                    nullable ? " or null" : ""));
  }

  template <class F>
  void each(const json& obj, const std::string& path, const char* key, bool needed, F on_entry) {
    auto* v = field(obj, path, key, needed);
    if (!v) return;
    if (!v->is_array()) return fail(at(path, key), "expected a list");
    for (std::size_t i = 0; i < v->size(); ++i) {
      auto entry = fmt::format("{}[{}]", at(path, key), i);
      if (object((*v)[i], entry)) on_entry((*v)[i], entry);
    }
  }

  void check(const json& c, const std::string& path) {
    for (const char* key : {"id", "kind", "category", "target", "summary"}) text(c, path, key, true);
    choice(c, path, "status", status_names(), true);
    number(c, path, "duration_ms", 0, kMaxDurationMs, true);
    choice(c, path, "severity", severity_names(), false);
    if (auto* d = required(c, path, "details")) object(*d, at(path, "details"));
    if (auto* r = optional(c, "requirement"); r && object(*r, at(path, "requirement"))) {
      text(*r, at(path, "requirement"), "text", true);
      text(*r, at(path, "requirement"), "source", true);
    }
    each(c, path, "findings", true, [&](const json& f, const std::string& fpath) {
      choice(f, fpath, "severity", severity_names(), true);
      for (const char* key : {"code", "message", "remediation", "requirement"}) text(f, fpath, key, true);
      choice(f, fpath, "operation", operation_names(), false, true);
      boolean(f, fpath, "inconclusive", false);
    });
    if (auto* e = optional(c, "error"); e && object(*e, at(path, "error"))) {
      auto epath = at(path, "error");
      choice(*e, epath, "reason", reason_names(), true);
      choice(*e, epath, "operation", operation_names(), false, true);
      text(*e, epath, "message", true);
      text(*e, epath, "cause", false);
    }
  }
};

}  // namespace

std::vector<std::string> status_names() { return enum_names<Status>(); }
std::vector<std::string> severity_names() { return enum_names<Severity>(); }
std::vector<std::string> verdict_names() { return enum_names<Verdict>(); }
std::vector<std::string> reason_names() { return enum_names<ErrorReason>(); }
std::vector<std::string> operation_names() { return enum_names<Operation>(true); }

std::vector<std::string> validate_report_json(const json& doc) {
  ReportRules rules;
  rules.report(doc);
  return rules.errors;
}

ReportLoad load_report_text(std::string_view text, const std::string& origin) {
  auto parsed = parse_json_bounded(text);
  if (!parsed.value) return {std::nullopt, {origin + ": " + parsed.error}};
  auto problems = validate_report_json(*parsed.value);
  if (!problems.empty()) {
    for (auto& p : problems) p = origin + ": " + p;
    if (problems.size() > 20) {  // a report of garbage: the first ones say enough
      auto more = problems.size() - 20;
      problems.resize(20);
      problems.push_back(fmt::format("{}: ... and {} more problems", origin, more));
    }
    problems.insert(problems.begin(), origin + ": not a callready report (schema callready.report/v1):");
    return {std::nullopt, problems};
  }
  // Valid against the schema: every conversion below is in range.
  return {parsed.value->get<Report>(), {}};
}

ReportLoad load_report_file(const std::string& path) {
  auto read = read_file_capped(path, kMaxReportBytes, "report");
  if (!read.contents) return {std::nullopt, {read.error}};
  return load_report_text(*read.contents, escape_for_message(path));
}

}  // namespace callready
