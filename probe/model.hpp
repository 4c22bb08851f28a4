#pragma once
// The data model every stage shares: profile -> plan -> results -> scored
// report -> renderers. Checks produce CheckOutcome; the engine turns it into a
// CheckRecord; scoring fills status, scores and the verdict.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace callready {

using nlohmann::json;

enum class Status { pass, warn, fail, error, skipped };
enum class Severity { info, warning, critical };
enum class Verdict { ready, degraded, not_ready, unknown };

// Why a check could not say anything about the network. A closed list
// (README "Errors"); a value never changes meaning.
enum class ErrorReason {
  timeout,      // its own timeout or the overall --timeout ended it
  interrupted,  // SIGINT/SIGTERM ended the scan
  bad_params,   // the profile gave it parameters it cannot use
  setup,        // the far end is missing, rejected our token, or does not serve that port
  local,        // this machine could not do it: bind, descriptors, permissions
  dependency,   // a step it depends on failed first (its target did not resolve)
  internal,     // the check broke
};

// The step that failed, on an error and on every finding that comes from a
// failed step. `none` for findings about what was measured.
enum class Operation { none, resolve, bind, connect, handshake, send, receive, control, parse };

// Each enum's names live in one table (model.cpp), used by to_string and JSON.
void to_json(json&, Status);
void from_json(const json&, Status&);
void to_json(json&, Severity);
void from_json(const json&, Severity&);
void to_json(json&, Verdict);
void from_json(const json&, Verdict&);
void to_json(json&, ErrorReason);
void from_json(const json&, ErrorReason&);
void to_json(json&, Operation);
void from_json(const json&, Operation&);

const char* to_string(Status);
const char* to_string(Severity);
const char* to_string(Verdict);
const char* to_string(ErrorReason);
const char* to_string(Operation);

// What a profile rule cites: the requirement in English and where it is written.
struct Requirement {
  std::string text;
  std::string source;  // seed file name + section heading
};

// A step a check depends on that failed first (its target's name did not
// resolve): one cause, worded the same for every check it stopped, so the
// report names it once in `root_causes`.
struct Cause {
  std::string code;     // e.g. "dns.unreachable", "dns.nxdomain"
  std::string message;  // for people: what is wrong here
};

// One observation about the network. `code` is stable for machines
// ("dns.nxdomain"), `message` is for people.
struct Finding {
  Severity severity = Severity::info;
  std::string code{};
  std::string message{};
  std::string remediation{};
  std::string requirement{};              // filled from the rule when the record is built: "text [source]"
  Operation operation = Operation::none;  // the step that failed, when one did
  // The check could not tell whether the requirement holds (e.g. the far end
  // refused): the rule's remediation does not apply, the finding keeps its own.
  bool inconclusive = false;
  // Set by a step the check depends on (resolving its target): scoring makes
  // the check an error with reason `dependency` and names the cause once.
  std::optional<Cause> cause{};
};

// Why a check could not say anything about the network (sslyze's split:
// the network failing is a Finding, our check breaking is a CheckError).
struct CheckError {
  ErrorReason reason = ErrorReason::internal;
  Operation operation = Operation::none;
  std::string message;
  std::optional<Cause> cause{};  // with reason `dependency`: the step that failed first (JSON: its code)
};

// What a check returns. It never decides its status or score.
struct CheckOutcome {
  std::string summary;
  std::vector<Finding> findings;
  json details = json::object();
  std::optional<CheckError> error;
  // What the check learned about this site on the way, for the report's
  // `site` (e.g. the public address a STUN server saw).
  std::optional<std::string> public_address;

  static CheckOutcome failed(ErrorReason reason, Operation operation, std::string message) {
    CheckOutcome o;
    o.summary = message;
    o.error = CheckError{reason, operation, std::move(message)};
    return o;
  }
  static CheckOutcome failed(ErrorReason reason, std::string message) {
    return failed(reason, Operation::none, std::move(message));
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

// One cause named once, with the checks it affected (a resolver that cannot
// be reached, a responder that is not running, an unreachable host).
struct RootCause {
  std::string code;                 // the finding code or error that is the cause, e.g. "dns.unreachable"
  std::string message;              // for people: what is wrong here
  std::vector<std::string> checks;  // ids of the checks it affected
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
  std::vector<RootCause> root_causes;
  std::vector<CheckRecord> checks;
};

void to_json(json&, const Finding&);
void from_json(const json&, Finding&);
void to_json(json&, const RootCause&);
void from_json(const json&, RootCause&);
void to_json(json&, const CheckRecord&);
void from_json(const json&, CheckRecord&);
void to_json(json&, const Report&);
void from_json(const json&, Report&);

}  // namespace callready
