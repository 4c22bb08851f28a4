#pragma once
// The data model every stage shares: profile -> plan -> results -> scored
// report -> renderers. Checks produce CheckOutcome; the engine turns it into a
// CheckRecord; scoring fills status, scores and the verdict.
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace callready {

using nlohmann::json;

enum class Status { pass, warn, fail, error, skipped };
enum class Severity { info, warning, critical };
enum class Verdict { ready, degraded, not_ready, unknown };

// Each enum's names live in one table (model.cpp), used by to_string and JSON.
void to_json(json&, Status);
void from_json(const json&, Status&);
void to_json(json&, Severity);
void from_json(const json&, Severity&);
void to_json(json&, Verdict);
void from_json(const json&, Verdict&);

const char* to_string(Status);
const char* to_string(Severity);
const char* to_string(Verdict);

// What a profile rule cites: the requirement in English and where it is written.
struct Requirement {
  std::string text;
  std::string source;  // seed file name + section heading
};

// One observation about the network. `code` is stable for machines
// ("dns.nxdomain"), `message` is for people.
struct Finding {
  Severity severity = Severity::info;
  std::string code;
  std::string message;
  std::string remediation;
  std::string requirement;  // filled by the engine from the rule: "text [source]"
};

// Why a check could not say anything about the network (sslyze's split:
// the network failing is a Finding, our check breaking is a CheckError).
struct CheckError {
  std::string reason;  // timeout | internal | bad_params | interrupted | unsupported ...
  std::string message;
};

// What a check returns. It never decides its status or score.
struct CheckOutcome {
  std::string summary;
  std::vector<Finding> findings;
  json details = json::object();
  std::optional<CheckError> error;

  static CheckOutcome failed(std::string reason, std::string message) {
    CheckOutcome o;
    o.summary = message;
    o.error = CheckError{std::move(reason), std::move(message)};
    return o;
  }
};

// One entry of the report's `checks`.
struct CheckRecord {
  std::string id;
  std::string kind;
  std::string category;
  std::string target;
  Severity severity = Severity::critical;  // what a failure of this rule costs
  Requirement requirement;
  Status status = Status::skipped;
  std::optional<CheckError> error;
  long long duration_ms = 0;
  std::string summary;
  std::vector<Finding> findings;
  json details = json::object();
};

struct CategoryScore {
  std::string name;
  int score = 0;
  Verdict verdict = Verdict::unknown;
};

struct ReportProfile {
  std::string name;
  std::string description;
  std::map<std::string, std::string> variables;  // values in force (unset ones absent)
};

struct ReportSite {
  std::string hostname;
  std::vector<std::string> local_addresses;
  std::string public_address;  // when a check learned it (STUN)
};

struct Report {
  std::string schema = "callready.report/v1";
  std::string tool_name = "callready";
  std::string tool_version;
  ReportProfile profile;
  ReportSite site;
  std::string started_at;  // RFC 3339
  std::string finished_at;
  long long duration_ms = 0;
  Verdict verdict = Verdict::unknown;
  int score = 0;
  bool incomplete = false;
  std::string incomplete_reason;
  std::vector<CategoryScore> categories;
  std::vector<CheckRecord> checks;
};

void to_json(json&, const Finding&);
void from_json(const json&, Finding&);
void to_json(json&, const CheckRecord&);
void from_json(const json&, CheckRecord&);
void to_json(json&, const Report&);
void from_json(const json&, Report&);

}  // namespace callready
