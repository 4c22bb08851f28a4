#pragma once
// Profiles: JSON documents (CONTRACT.md) validated at load, then turned into a
// Plan by filling variables (${var}), resolving shared data ({"$data": NAME})
// and selecting checks. Every error names the origin and the JSON path:
//   "site.json: checks[3].params.port: expected an integer 1-65535"
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "probe/check.hpp"
#include "probe/model.hpp"

namespace callready {

struct ProfileVariable {
  std::string name;
  std::optional<std::string> default_value;  // nullopt: the user must --set it
  std::string description;
};

struct ProfileRule {
  std::string id;
  std::string kind;
  std::string category;
  std::string description;
  json params = json::object();  // as written, $data resolved, ${var} not yet
  Severity severity = Severity::critical;
  Requirement requirement;
  std::string remediation;  // overrides the check's own remediation when set
};

struct Profile {
  std::string name;
  std::string description;
  std::string origin;  // file path, or "built-in:<name>"
  std::vector<ProfileVariable> variables;
  std::vector<ProfileRule> checks;
};

// Errors are values: either a profile or the list of problems found.
struct ProfileLoad {
  std::optional<Profile> profile;
  std::vector<std::string> errors;
};

ProfileLoad load_profile_text(std::string_view text, const std::string& origin);
// A built-in name, else a file path.
ProfileLoad load_profile(const std::string& name_or_path);

struct BuiltinProfileInfo {
  std::string name;
  std::string description;
};
std::vector<BuiltinProfileInfo> list_builtin_profiles();
std::optional<std::string_view> builtin_profile_text(const std::string& name);

// The shared data catalog: every embedded data/*.json merged (names unique).
const json& data_catalog();

struct PlannedCheck {
  ProfileRule rule;
  const CheckKind* kind = nullptr;
  json params;  // substituted, what runs
  std::string target;
  Millis timeout{0};
  std::optional<std::string> skip_reason;  // set: reported as skipped, not run
};

struct Plan {
  std::string profile_name;
  std::string profile_description;
  std::map<std::string, std::string> variables;  // values in force
  std::vector<PlannedCheck> checks;
};

// The scan's deadline when --timeout is not given: 60 s, or the longest
// check that will run plus a margin, so a check whose own timeout is longer
// (a NAT binding held idle for minutes) is not cut off by the default.
Millis default_overall_timeout(const Plan& plan);

struct PlanOptions {
  std::map<std::string, std::string> sets;  // --set KEY=VALUE
  std::vector<std::string> only;            // ids or kinds
  std::vector<std::string> skip;
  // --responder's host: fills a `responder` variable the user did not --set.
  std::string responder;
};

struct PlanBuild {
  std::optional<Plan> plan;
  std::vector<std::string> errors;
};

PlanBuild build_plan(const Profile& profile, const PlanOptions& options);

// The plan as JSON: exactly what will run (for `profiles show`).
json plan_to_json(const Plan& plan, const Profile& profile);

// "KEY=VALUE" -> pair; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> parse_set(const std::string& text);

}  // namespace callready
