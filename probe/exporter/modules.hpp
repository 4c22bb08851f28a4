#pragma once
// The exporter's modules: every built-in profile by name, plus the profile
// files of --modules DIR (a file may override a built-in of the same name).
// A module file is either a profile, or a profile with a background
// schedule for its long checks and/or the variable `target` fills:
//   {"profile": {...a profile...} | "built-in-name",
//    "background": {"checks": ["nat-udp"], "interval_s": 900},
//    "target_variable": "xsp_host"}
// Loading validates everything first; a set with any error is not used.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "probe/profile.hpp"

namespace callready::exporter {

struct Module {
  Profile profile;
  std::string origin;  // file path or "built-in"
  // The module file's target_variable; else "target" if the profile has one, else
  // "responder", else the first variable by name without a default; else empty.
  std::string target_variable;
  // Checks that never run inside a scrape: listed in the file, or with a
  // timeout longer than a scrape could wait.
  std::set<std::string> background;
  std::chrono::seconds interval{900};
};

struct ModuleSet {
  std::map<std::string, std::shared_ptr<const Module>> modules;
};

struct ModuleLoad {
  std::shared_ptr<const ModuleSet> set;  // null when anything was wrong
  std::vector<std::string> errors;       // "file.json: checks[2].params.port: ..."
};

// Checks whose timeout is above this run in the background even when not listed.
inline constexpr Millis kLongestInlineCheck{120000};

// Built-ins, then every *.json in `dir` (none when `dir` is empty or does not exist).
ModuleLoad load_modules(const std::string& dir);

// One module file's text (tests, and load_modules for each file).
struct ModuleFile {
  std::optional<Module> module;
  std::vector<std::string> errors;
};
ModuleFile parse_module_file(const std::string& text, const std::string& origin);

}  // namespace callready::exporter
