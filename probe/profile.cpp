#include "probe/profile.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "probe/embedded.hpp"
#include "probe/input_limits.hpp"
#include "probe/registry.hpp"

namespace callready {

namespace {

constexpr long long kMaxTimeoutMs = 3600000;  // as --timeout's own bound

// Plain character scans, not std::regex: libstdc++'s regex recurses per
// character and overflowed the stack on a 30 k-character id.
constexpr std::size_t kMaxNameLength = 128;       // ids and variable names
constexpr std::size_t kMaxValueLength = 4096;     // a variable's value (--set or default)
constexpr std::size_t kMaxProfileString = 65536;  // any string in a profile, also after substitution

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [A-Za-z_][A-Za-z0-9_]*
bool is_identifier(std::string_view s) {
  if (s.empty() || !(is_alpha(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

// [A-Za-z0-9][A-Za-z0-9._-]*
bool is_check_id(std::string_view s) {
  if (s.empty() || !(is_alpha(s[0]) || is_digit(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-'; });
}

// Calls on_ref(position, length, name) for every ${name} in s, in order.
template <class F>
void for_each_var_ref(std::string_view s, F on_ref) {
  for (std::size_t at = s.find("${"); at != std::string_view::npos; at = s.find("${", at + 1)) {
    auto close = s.find('}', at + 2);
    if (close == std::string_view::npos) return;
    auto name = s.substr(at + 2, close - at - 2);
    if (!is_identifier(name)) continue;
    on_ref(at, close + 1 - at, name);
    at = close;
  }
}

struct Errors {
  std::string origin;
  std::vector<std::string> list;
  void add(const std::string& path, const std::string& message) {
    list.push_back(fmt::format("{}: {}{}{}", origin, path, path.empty() ? "" : ": ", message));
  }
};

void collect_vars(const json& j, std::set<std::string>& out) {
  if (j.is_string()) {
    for_each_var_ref(j.get_ref<const std::string&>(),
                     [&](std::size_t, std::size_t, std::string_view name) { out.insert(std::string(name)); });
  } else if (j.is_structured()) {
    for (const auto& e : j) collect_vars(e, out);
  }
}

// `too_long` is set when a string grows past kMaxProfileString (many
// references to a long value): it is cut there and the caller refuses it.
json substitute(const json& j, const std::map<std::string, std::string>& values, bool& too_long) {
  if (j.is_string()) {
    std::string_view s = j.get_ref<const std::string&>();
    std::string out;
    std::size_t last = 0;
    for_each_var_ref(s, [&](std::size_t at, std::size_t length, std::string_view name) {
      if (out.size() > kMaxProfileString) return;
      out += s.substr(last, at - last);
      auto v = values.find(std::string(name));
      out += v != values.end() ? std::string_view(v->second) : s.substr(at, length);
      last = at + length;
    });
    if (out.size() > kMaxProfileString) {
      too_long = true;
      out.resize(kMaxProfileString);
      return out;
    }
    return out.append(s.substr(last));
  }
  if (j.is_array()) {
    json a = json::array();
    for (const auto& e : j) a.push_back(substitute(e, values, too_long));
    return a;
  }
  if (j.is_object()) {
    json o = json::object();
    for (const auto& [k, v] : j.items()) o[k] = substitute(v, values, too_long);
    return o;
  }
  return j;
}

// Replaces every {"$data": NAME} with the named value; reports unknown names.
json resolve_data(const json& j, const json& local, const std::string& path, Errors& errors) {
  if (j.is_object()) {
    if (j.size() == 1 && j.contains("$data")) {
      const auto& ref = j["$data"];
      if (!ref.is_string()) {
        errors.add(path, "\"$data\" takes a name");
        return nullptr;
      }
      auto name = ref.get<std::string>();
      if (local.is_object() && local.contains(name)) return local[name];
      if (data_catalog().contains(name)) return data_catalog()[name];
      errors.add(path, fmt::format("unknown data \"{}\"", escape_for_message(name)));
      return nullptr;
    }
    json o = json::object();
    for (const auto& [k, v] : j.items()) o[k] = resolve_data(v, local, path + "." + k, errors);
    return o;
  }
  if (j.is_array()) {
    json a = json::array();
    for (std::size_t i = 0; i < j.size(); ++i)
      a.push_back(resolve_data(j[i], local, fmt::format("{}[{}]", path, i), errors));
    return a;
  }
  return j;
}

bool non_empty_string(const json& j) { return j.is_string() && !j.get_ref<const std::string&>().empty(); }

void check_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& path, Errors& errors) {
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || k == a;
    if (!known) errors.add(path.empty() ? escape_for_message(k) : path + "." + escape_for_message(k), "unknown key");
  }
}

std::optional<ProfileVariable> parse_variable(const std::string& name, const json& v, Errors& errors) {
  ProfileVariable var{name, std::nullopt, {}};
  std::string path = "variables." + name;
  if (name.size() > kMaxNameLength) {
    errors.add("variables." + escape_for_message(name, 40),
               fmt::format("a variable name is at most {} characters", kMaxNameLength));
    return std::nullopt;
  }
  if (!is_identifier(name)) {
    errors.add("variables." + escape_for_message(name), "variable names are letters, digits and _");
    return std::nullopt;
  }
  auto scalar = [&](const json& d) -> bool {
    if (d.is_null()) return true;
    if (d.is_string() && d.get_ref<const std::string&>().size() > kMaxValueLength) {
      errors.add(path, fmt::format("a default value is at most {} bytes", kMaxValueLength));
      return true;
    }
    if (d.is_string())
      var.default_value = d.get<std::string>();
    else if (d.is_number_integer() || d.is_boolean())
      var.default_value = d.dump();
    else
      return false;
    return true;
  };
  if (v.is_object()) {
    check_keys(v, {"default", "description"}, path, errors);
    if (v.contains("default") && !scalar(v["default"])) errors.add(path + ".default", "expected a string or null");
    if (v.contains("description")) {
      if (!v["description"].is_string())
        errors.add(path + ".description", "expected a string");
      else
        var.description = v["description"].get<std::string>();
    }
  } else if (!scalar(v)) {
    errors.add(path, "expected a default value (string or null) or {\"default\", \"description\"}");
  }
  return var;
}

void validate_params(const CheckKind& kind, const json& params, const std::string& path, Errors& errors,
                     const std::string& suffix = {}) {
  for (const auto& e : kind.validate(params))
    errors.add(path + (e.path.empty() ? "" : "." + e.path), e.message + suffix);
  if (params.contains(kTimeoutParam)) {
    ParamReader r(params);
    r.opt_integer(kTimeoutParam, 1, kMaxTimeoutMs);
    for (const auto& e : r.errors()) errors.add(path + "." + e.path, e.message + suffix);
  }
}

}  // namespace

const json& data_catalog() {
  static const json catalog = [] {
    json merged = json::object();
    for (const auto& f : embedded_files()) {
      if (f.path.rfind("data/", 0) != 0 || f.path.size() < 5 || f.path.substr(f.path.size() - 5) != ".json") continue;
      json j = json::parse(f.contents, nullptr, false);
      if (!j.is_object()) continue;  // a broken embedded file fails its unit test
      for (const auto& [k, v] : j.items()) merged[k] = v;
    }
    return merged;
  }();
  return catalog;
}

std::optional<std::pair<std::string, std::string>> parse_set(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  auto key = text.substr(0, eq);
  if (key.size() > kMaxNameLength || !is_identifier(key) || text.size() - eq - 1 > kMaxValueLength) return std::nullopt;
  return std::make_pair(key, text.substr(eq + 1));
}

ProfileLoad load_profile_text(std::string_view text, const std::string& origin) {
  Errors errors{origin, {}};
  auto parsed = parse_json_bounded(text, {kMaxJsonDepth, kMaxProfileString});
  if (!parsed.value) {
    errors.add("", parsed.error);
    return {std::nullopt, errors.list};
  }
  const json doc = std::move(*parsed.value);
  if (!doc.is_object()) {
    errors.add("", "a profile is a JSON object");
    return {std::nullopt, errors.list};
  }
  Profile p;
  p.origin = origin;
  check_keys(doc, {"name", "description", "variables", "data", "checks"}, "", errors);
  if (!non_empty_string(doc.value("name", json())))
    errors.add("name", "required: a non-empty string");
  else
    p.name = doc["name"].get<std::string>();
  if (doc.contains("description")) {
    if (!doc["description"].is_string())
      errors.add("description", "expected a string");
    else
      p.description = doc["description"].get<std::string>();
  }
  std::set<std::string> declared;
  if (doc.contains("variables")) {
    if (!doc["variables"].is_object())
      errors.add("variables", "expected an object of name -> default");
    else
      for (const auto& [name, v] : doc["variables"].items())
        if (auto var = parse_variable(name, v, errors)) {
          declared.insert(var->name);
          p.variables.push_back(*var);
        }
  }
  json local_data = doc.value("data", json::object());
  if (!local_data.is_object()) errors.add("data", "expected an object of name -> value");

  if (!doc.contains("checks") || !doc["checks"].is_array() || doc["checks"].empty()) {
    errors.add("checks", "required: a non-empty list");
    return {std::nullopt, errors.list};
  }
  std::set<std::string> ids;
  const auto& checks = doc["checks"];
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    std::string path = fmt::format("checks[{}]", i);
    if (!c.is_object()) {
      errors.add(path, "expected an object");
      continue;
    }
    check_keys(c, {"id", "kind", "category", "description", "params", "severity", "requirement", "remediation"}, path,
               errors);
    ProfileRule rule;
    if (non_empty_string(c.value("id", json())) && c["id"].get_ref<const std::string&>().size() > kMaxNameLength)
      errors.add(path + ".id", fmt::format("an id is at most {} characters", kMaxNameLength));
    else if (!non_empty_string(c.value("id", json())) || !is_check_id(c["id"].get_ref<const std::string&>()))
      errors.add(path + ".id", "required: letters, digits, '.', '_' or '-'");
    else if (!ids.insert(c["id"].get<std::string>()).second)
      errors.add(path + ".id", fmt::format("duplicate id \"{}\"", c["id"].get<std::string>()));
    else
      rule.id = c["id"].get<std::string>();
    const CheckKind* kind = nullptr;
    if (!non_empty_string(c.value("kind", json()))) {
      errors.add(path + ".kind", "required");
    } else {
      rule.kind = c["kind"].get<std::string>();
      kind = find_check_kind(rule.kind);
      if (!kind) {
        std::string known;
        for (const auto& [name, k] : check_registry()) known += (known.empty() ? "" : ", ") + name;
        errors.add(path + ".kind",
                   fmt::format("unknown check kind \"{}\" (known: {})", escape_for_message(rule.kind), known));
      }
    }
    if (!non_empty_string(c.value("category", json())))
      errors.add(path + ".category", "required: a non-empty string");
    else
      rule.category = c["category"].get<std::string>();
    for (auto [key, field] : {std::pair{"description", &rule.description}, std::pair{"remediation", &rule.remediation}})
      if (c.contains(key)) {
        if (!c[key].is_string())
          errors.add(path + "." + key, "expected a string");
        else
          *field = c[key].get<std::string>();
      }
    if (c.contains("severity")) {
      if (c["severity"] == "critical")
        rule.severity = Severity::critical;
      else if (c["severity"] == "warning")
        rule.severity = Severity::warning;
      else
        errors.add(path + ".severity", "expected \"warning\" or \"critical\"");
    }
    if (c.contains("requirement")) {
      const auto& r = c["requirement"];
      if (!r.is_object()) {
        errors.add(path + ".requirement", "expected {\"text\", \"source\"}");
      } else {
        check_keys(r, {"text", "source"}, path + ".requirement", errors);
        if (!non_empty_string(r.value("text", json())))
          errors.add(path + ".requirement.text", "required");
        else
          rule.requirement.text = r["text"].get<std::string>();
        if (!non_empty_string(r.value("source", json())))
          errors.add(path + ".requirement.source", "required");
        else
          rule.requirement.source = r["source"].get<std::string>();
      }
    }
    json params = c.value("params", json::object());
    if (!params.is_object()) {
      errors.add(path + ".params", "expected an object");
      continue;
    }
    rule.params = resolve_data(params, local_data, path + ".params", errors);
    std::set<std::string> used;
    collect_vars(rule.params, used);
    bool all_defaults = true;
    std::map<std::string, std::string> defaults;
    for (const auto& name : used) {
      if (!declared.count(name)) {
        errors.add(path + ".params",
                   fmt::format("uses ${{{}}} but the profile declares no variable \"{}\"", name, name));
        all_defaults = false;
        continue;
      }
      for (const auto& v : p.variables)
        if (v.name == name) {
          if (v.default_value)
            defaults[name] = *v.default_value;
          else
            all_defaults = false;
        }
    }
    // Params are validated now when every variable they use has a default;
    // otherwise once the user's --set values are known (build_plan).
    bool too_long = false;
    json with_defaults = substitute(rule.params, defaults, too_long);
    if (too_long)
      errors.add(path + ".params",
                 fmt::format("a string longer than {} bytes after filling variables", kMaxProfileString));
    else if (kind && all_defaults)
      validate_params(*kind, with_defaults, path + ".params", errors);
    p.checks.push_back(std::move(rule));
  }
  if (!errors.list.empty()) return {std::nullopt, errors.list};
  return {std::move(p), {}};
}

std::optional<std::string_view> builtin_profile_text(const std::string& name) {
  return embedded_file("profiles/" + name + ".json");
}

std::vector<BuiltinProfileInfo> list_builtin_profiles() {
  std::vector<BuiltinProfileInfo> out;
  for (const auto& f : embedded_files()) {
    if (f.path.rfind("profiles/", 0) != 0) continue;
    std::string file(f.path.substr(9));
    if (file.size() < 6 || file.substr(file.size() - 5) != ".json") continue;
    json j = json::parse(f.contents, nullptr, false);
    out.push_back({file.substr(0, file.size() - 5), j.is_object() ? j.value("description", "") : ""});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

ProfileLoad load_profile(const std::string& name_or_path) {
  if (auto text = builtin_profile_text(name_or_path)) return load_profile_text(*text, "built-in:" + name_or_path);
  if (::access(name_or_path.c_str(), F_OK) != 0) {
    std::string names;
    for (const auto& b : list_builtin_profiles()) names += (names.empty() ? "" : ", ") + b.name;
    return {std::nullopt,
            {fmt::format("{}: no built-in profile of that name (built-in: {}) and no readable file",
                         escape_for_message(name_or_path), names)}};
  }
  auto read = read_file_capped(name_or_path, kMaxProfileBytes, "profile");
  if (!read.contents) return {std::nullopt, {read.error}};
  return load_profile_text(*read.contents, escape_for_message(name_or_path));
}

PlanBuild build_plan(const Profile& profile, const PlanOptions& options) {
  Errors errors{profile.origin, {}};
  Plan plan;
  plan.profile_name = profile.name;
  plan.profile_description = profile.description;
  std::map<std::string, const ProfileVariable*> vars;
  for (const auto& v : profile.variables) vars[v.name] = &v;
  for (const auto& [key, value] : options.sets) {
    if (!vars.count(key)) {
      std::string names;
      for (const auto& v : profile.variables) names += (names.empty() ? "" : ", ") + v.name;
      errors.list.push_back(fmt::format("--set {}: profile \"{}\" has no variable \"{}\" (it has: {})", key,
                                        profile.name, key, names.empty() ? "none" : names));
    }
  }
  for (const auto& v : profile.variables) {
    if (auto s = options.sets.find(v.name); s != options.sets.end())
      plan.variables[v.name] = s->second;
    else if (v.name == "responder" && !options.responder.empty())
      plan.variables[v.name] = options.responder;
    else if (v.default_value)
      plan.variables[v.name] = *v.default_value;
  }
  auto selected = [](const ProfileRule& r, const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), r.id) != list.end() ||
           std::find(list.begin(), list.end(), r.kind) != list.end();
  };
  for (const auto& [flag, list] : {std::pair{"--only", &options.only}, std::pair{"--skip", &options.skip}})
    for (const auto& name : *list) {
      bool matches = std::any_of(profile.checks.begin(), profile.checks.end(),
                                 [&](const ProfileRule& r) { return r.id == name || r.kind == name; });
      if (!matches)
        errors.list.push_back(fmt::format("{} {}: no check in profile \"{}\" has that id or kind", flag,
                                          escape_for_message(name), profile.name));
    }
  for (std::size_t i = 0; i < profile.checks.size(); ++i) {
    const auto& rule = profile.checks[i];
    if (!options.only.empty() && !selected(rule, options.only)) continue;
    if (selected(rule, options.skip)) continue;
    PlannedCheck pc;
    pc.rule = rule;
    pc.kind = find_check_kind(rule.kind);
    std::set<std::string> used;
    collect_vars(rule.params, used);
    std::vector<std::string> missing;
    for (const auto& name : used)
      if (!plan.variables.count(name)) missing.push_back(name);
    bool too_long = false;
    pc.params = substitute(rule.params, plan.variables, too_long);
    if (too_long)
      errors.list.push_back(fmt::format("{}: checks[{}].params: a string longer than {} bytes after filling variables",
                                        profile.origin, i, kMaxProfileString));
    if (!missing.empty()) {
      std::string how;
      for (const auto& m : missing) {
        auto* v = vars[m];
        how += fmt::format("{}--set {}=<{}>", how.empty() ? "" : " ", m,
                           v && !v->description.empty() ? v->description : m);
      }
      pc.skip_reason = "needs " + how;
      pc.target = "";
    } else {
      std::string suffix;
      for (const auto& name : used)
        if (options.sets.count(name)) suffix += fmt::format(" (after --set {}={})", name, options.sets.at(name));
      validate_params(*pc.kind, pc.params, fmt::format("checks[{}].params", i), errors, suffix);
      if (errors.list.empty()) pc.target = pc.kind->target(pc.params);
    }
    pc.timeout = pc.kind->default_timeout;
    if (pc.params.contains(kTimeoutParam)) {
      ParamReader r(pc.params);
      if (auto t = r.opt_integer(kTimeoutParam, 1, kMaxTimeoutMs)) pc.timeout = Millis(*t);
    }
    plan.checks.push_back(std::move(pc));
  }
  if (!errors.list.empty()) return {std::nullopt, errors.list};
  return {std::move(plan), {}};
}

json plan_to_json(const Plan& plan, const Profile& profile) {
  // The output is itself a valid profile (it round-trips through the loader):
  // variables carry the values in force as defaults, params are substituted
  // and carry their effective timeout. Rules still waiting for a variable
  // keep their ${var} so they stay skipped.
  json vars = json::object();
  for (const auto& v : profile.variables) {
    auto it = plan.variables.find(v.name);
    vars[v.name] = {{"default", it != plan.variables.end() ? json(it->second) : json(nullptr)},
                    {"description", v.description}};
  }
  json checks = json::array();
  for (const auto& c : plan.checks) {
    json params = c.skip_reason ? c.rule.params : c.params;
    params[kTimeoutParam] = c.timeout.count();
    json j = {{"id", c.rule.id},
              {"kind", c.rule.kind},
              {"category", c.rule.category},
              {"params", params},
              {"severity", c.rule.severity}};
    if (!c.rule.requirement.text.empty())
      j["requirement"] = {{"text", c.rule.requirement.text}, {"source", c.rule.requirement.source}};
    if (!c.rule.description.empty()) j["description"] = c.rule.description;
    if (!c.rule.remediation.empty()) j["remediation"] = c.rule.remediation;
    checks.push_back(j);
  }
  return {{"name", profile.name}, {"description", profile.description}, {"variables", vars}, {"checks", checks}};
}

Millis default_overall_timeout(const Plan& plan) {
  Millis longest{0};
  for (const auto& c : plan.checks)
    if (!c.skip_reason) longest = std::max(longest, c.timeout);
  return std::max(Millis(60000), longest + Millis(5000));
}

}  // namespace callready
