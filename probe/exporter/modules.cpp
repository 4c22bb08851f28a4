#include "probe/exporter/modules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "probe/registry.hpp"

namespace callready::exporter {

namespace {

bool has_variable(const Profile& p, const std::string& name) {
  return std::any_of(p.variables.begin(), p.variables.end(), [&](const auto& v) { return v.name == name; });
}

// `target`, else `responder`, else the first variable (by name) that has no
// default: every profile that needs a value can be probed.
std::string target_variable_of(const Profile& p) {
  for (const char* name : {"target", "responder"})
    if (has_variable(p, name)) return name;
  std::vector<std::string> required;
  for (const auto& v : p.variables)
    if (!v.default_value) required.push_back(v.name);
  return required.empty() ? std::string() : *std::min_element(required.begin(), required.end());
}

// The long checks: listed ones (each must exist), and any whose timeout a scrape cannot wait for.
void mark_background(Module& m, const nlohmann::json& listed, const std::string& origin,
                     std::vector<std::string>& errors) {
  for (const auto& id : listed) {
    if (!id.is_string()) {
      errors.push_back(fmt::format("{}: background.checks: expected a list of check ids", origin));
      continue;
    }
    auto name = id.get<std::string>();
    bool known = std::any_of(m.profile.checks.begin(), m.profile.checks.end(),
                             [&](const ProfileRule& r) { return r.id == name; });
    if (!known)
      errors.push_back(
          fmt::format("{}: background.checks: profile \"{}\" has no check \"{}\"", origin, m.profile.name, name));
    m.background.insert(name);
  }
  for (const auto& rule : m.profile.checks) {
    const auto* kind = find_check_kind(rule.kind);
    if (kind && kind->default_timeout > kLongestInlineCheck) m.background.insert(rule.id);
  }
}

std::optional<Module> module_of(ProfileLoad loaded, std::vector<std::string>& errors) {
  if (!loaded.profile) {
    errors.insert(errors.end(), loaded.errors.begin(), loaded.errors.end());
    return std::nullopt;
  }
  Module m;
  m.profile = std::move(*loaded.profile);
  m.origin = m.profile.origin;
  m.target_variable = target_variable_of(m.profile);
  return m;
}

}  // namespace

ModuleFile parse_module_file(const std::string& text, const std::string& origin) {
  ModuleFile out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    out.errors.push_back(fmt::format("{}: invalid JSON: {}", origin, e.what()));
    return out;
  }
  if (!j.is_object() || !j.contains("profile")) {
    out.module = module_of(load_profile_text(text, origin), out.errors);
    if (out.module) mark_background(*out.module, nlohmann::json::array(), origin, out.errors);
    if (!out.errors.empty()) out.module.reset();
    return out;
  }
  for (const auto& [key, value] : j.items())
    if (key != "profile" && key != "background" && key != "target_variable")
      out.errors.push_back(fmt::format("{}: {}: unknown key (profile, background, target_variable)", origin, key));
  const auto& p = j["profile"];
  if (p.is_string())
    out.module = module_of(load_profile(p.get<std::string>()), out.errors);
  else if (p.is_object())
    out.module = module_of(load_profile_text(p.dump(), origin), out.errors);
  else
    out.errors.push_back(fmt::format("{}: profile: expected a profile object or a built-in name", origin));
  nlohmann::json listed = nlohmann::json::array();
  if (j.contains("background")) {
    const auto& b = j["background"];
    if (!b.is_object()) {
      out.errors.push_back(fmt::format("{}: background: expected an object", origin));
    } else {
      if (b.contains("checks")) listed = b["checks"];
      if (!listed.is_array()) {
        out.errors.push_back(fmt::format("{}: background.checks: expected a list of check ids", origin));
        listed = nlohmann::json::array();
      }
      if (b.contains("interval_s")) {
        const auto& s = b["interval_s"];
        if (!s.is_number_integer() || s.get<long long>() < 10 || s.get<long long>() > 86400)
          out.errors.push_back(fmt::format("{}: background.interval_s: expected an integer 10-86400", origin));
        else if (out.module)
          out.module->interval = std::chrono::seconds(s.get<long long>());
      }
    }
  }
  if (j.contains("target_variable")) {
    const auto& t = j["target_variable"];
    if (!t.is_string())
      out.errors.push_back(fmt::format("{}: target_variable: expected a variable name", origin));
    else if (out.module && !has_variable(out.module->profile, t.get<std::string>()))
      out.errors.push_back(fmt::format("{}: target_variable: profile \"{}\" has no variable \"{}\"", origin,
                                       out.module->profile.name, t.get<std::string>()));
    else if (out.module)
      out.module->target_variable = t.get<std::string>();
  }
  if (out.module) mark_background(*out.module, listed, origin, out.errors);
  if (!out.errors.empty()) out.module.reset();
  return out;
}

ModuleLoad load_modules(const std::string& dir) {
  ModuleLoad out;
  auto set = std::make_shared<ModuleSet>();
  for (const auto& info : list_builtin_profiles()) {
    std::vector<std::string> errors;
    auto m = module_of(load_profile(info.name), errors);
    if (m) {
      mark_background(*m, nlohmann::json::array(), "built-in:" + info.name, errors);
      set->modules[info.name] = std::make_shared<const Module>(std::move(*m));
    }
    out.errors.insert(out.errors.end(), errors.begin(), errors.end());
  }
  // A directory that does not exist (yet) holds no modules: the built-ins serve.
  if (!dir.empty() && std::filesystem::exists(dir)) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    if (ec) out.errors.push_back(fmt::format("--modules {}: {}", dir, ec.message()));
    std::sort(files.begin(), files.end());
    std::map<std::string, std::string> seen;  // module name -> file
    for (const auto& path : files) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        out.errors.push_back(fmt::format("{}: cannot read", path.string()));
        continue;
      }
      auto file = parse_module_file(text.str(), path.string());
      out.errors.insert(out.errors.end(), file.errors.begin(), file.errors.end());
      if (!file.module) continue;
      auto name = file.module->profile.name;
      if (auto [it, added] = seen.emplace(name, path.string()); !added) {
        out.errors.push_back(fmt::format("{}: module \"{}\" is also defined by {}", path.string(), name, it->second));
        continue;
      }
      set->modules[name] = std::make_shared<const Module>(std::move(*file.module));
    }
  }
  if (out.errors.empty()) out.set = std::move(set);
  return out;
}

}  // namespace callready::exporter
