#include "probe/model.hpp"

namespace callready {

namespace {

template <class E>
using Names = std::pair<E, const char*>;

constexpr Names<Status> kStatusNames[] = {{Status::pass, "pass"},
                                          {Status::warn, "warn"},
                                          {Status::fail, "fail"},
                                          {Status::error, "error"},
                                          {Status::skipped, "skipped"}};
constexpr Names<Severity> kSeverityNames[] = {
    {Severity::info, "info"}, {Severity::warning, "warning"}, {Severity::critical, "critical"}};
constexpr Names<Verdict> kVerdictNames[] = {{Verdict::ready, "ready"},
                                            {Verdict::degraded, "degraded"},
                                            {Verdict::not_ready, "not_ready"},
                                            {Verdict::unknown, "unknown"}};
constexpr Names<ErrorReason> kReasonNames[] = {{ErrorReason::internal, "internal"},
                                               {ErrorReason::timeout, "timeout"},
                                               {ErrorReason::interrupted, "interrupted"},
                                               {ErrorReason::bad_params, "bad_params"},
                                               {ErrorReason::setup, "setup"},
                                               {ErrorReason::local, "local"},
                                               {ErrorReason::dependency, "dependency"}};
constexpr Names<Operation> kOperationNames[] = {
    {Operation::none, "none"},       {Operation::resolve, "resolve"},     {Operation::bind, "bind"},
    {Operation::connect, "connect"}, {Operation::handshake, "handshake"}, {Operation::send, "send"},
    {Operation::receive, "receive"}, {Operation::control, "control"},     {Operation::parse, "parse"}};

template <class E, std::size_t N>
const char* name_of(const Names<E> (&table)[N], E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return table[0].second;
}

// Like NLOHMANN_JSON_SERIALIZE_ENUM: an unknown name reads as the table's first value.
template <class E, std::size_t N>
E value_of(const Names<E> (&table)[N], const json& j) {
  if (j.is_string())
    for (const auto& [v, name] : table)
      if (j.get_ref<const std::string&>() == name) return v;
  return table[0].first;
}

}  // namespace

const char* to_string(Status s) { return name_of(kStatusNames, s); }
const char* to_string(Severity s) { return name_of(kSeverityNames, s); }
const char* to_string(Verdict v) { return name_of(kVerdictNames, v); }
const char* to_string(ErrorReason r) { return name_of(kReasonNames, r); }
const char* to_string(Operation o) { return name_of(kOperationNames, o); }

void to_json(json& j, Status s) { j = to_string(s); }
void from_json(const json& j, Status& s) { s = value_of(kStatusNames, j); }
void to_json(json& j, Severity s) { j = to_string(s); }
void from_json(const json& j, Severity& s) { s = value_of(kSeverityNames, j); }
void to_json(json& j, Verdict v) { j = to_string(v); }
void from_json(const json& j, Verdict& v) { v = value_of(kVerdictNames, j); }
void to_json(json& j, ErrorReason r) { j = to_string(r); }
void from_json(const json& j, ErrorReason& r) { r = value_of(kReasonNames, j); }
// `none` is written as null: no step failed.
void to_json(json& j, Operation o) { j = o == Operation::none ? json(nullptr) : json(to_string(o)); }
void from_json(const json& j, Operation& o) { o = value_of(kOperationNames, j); }

namespace {
template <class T>
void get_opt(const json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) it->get_to(out);
}
}  // namespace

void to_json(json& j, const Finding& f) {
  j = json{{"severity", f.severity},
           {"code", f.code},
           {"message", f.message},
           {"remediation", f.remediation},
           {"requirement", f.requirement}};
  if (f.operation != Operation::none) j["operation"] = f.operation;
  if (f.inconclusive) j["inconclusive"] = true;
}
void from_json(const json& j, Finding& f) {
  get_opt(j, "severity", f.severity);
  get_opt(j, "code", f.code);
  get_opt(j, "message", f.message);
  get_opt(j, "remediation", f.remediation);
  get_opt(j, "requirement", f.requirement);
  get_opt(j, "operation", f.operation);
  get_opt(j, "inconclusive", f.inconclusive);
}

void to_json(json& j, const RootCause& c) { j = json{{"code", c.code}, {"message", c.message}, {"checks", c.checks}}; }
void from_json(const json& j, RootCause& c) {
  get_opt(j, "code", c.code);
  get_opt(j, "message", c.message);
  get_opt(j, "checks", c.checks);
}

void to_json(json& j, const CheckRecord& c) {
  j = json{{"id", c.id},
           {"kind", c.kind},
           {"category", c.category},
           {"target", c.target},
           {"status", c.status},
           {"duration_ms", c.duration_ms},
           {"summary", c.summary},
           {"findings", c.findings},
           {"details", c.details},
           {"severity", c.severity},
           {"requirement", {{"text", c.requirement.text}, {"source", c.requirement.source}}}};
  if (c.error) {
    j["error"] = {{"reason", c.error->reason}, {"operation", c.error->operation}, {"message", c.error->message}};
    if (c.error->cause) j["error"]["cause"] = c.error->cause->code;
  }
}
void from_json(const json& j, CheckRecord& c) {
  get_opt(j, "id", c.id);
  get_opt(j, "kind", c.kind);
  get_opt(j, "category", c.category);
  get_opt(j, "target", c.target);
  get_opt(j, "status", c.status);
  get_opt(j, "duration_ms", c.duration_ms);
  get_opt(j, "summary", c.summary);
  get_opt(j, "findings", c.findings);
  get_opt(j, "details", c.details);
  get_opt(j, "severity", c.severity);
  if (auto it = j.find("requirement"); it != j.end() && it->is_object()) {
    get_opt(*it, "text", c.requirement.text);
    get_opt(*it, "source", c.requirement.source);
  }
  if (auto it = j.find("error"); it != j.end() && it->is_object()) {
    CheckError e;
    get_opt(*it, "reason", e.reason);
    get_opt(*it, "operation", e.operation);
    get_opt(*it, "message", e.message);
    if (auto cause = it->find("cause"); cause != it->end() && cause->is_string()) e.cause = Cause{*cause, {}};
    c.error = e;
  }
}

void to_json(json& j, const Report& r) {
  json categories = json::array();
  for (const auto& c : r.categories)
    categories.push_back({{"name", c.name}, {"score", c.score}, {"verdict", c.verdict}});
  j = json{{"schema", r.schema},
           {"tool", {{"name", r.tool_name}, {"version", r.tool_version}}},
           {"profile",
            {{"name", r.profile.name}, {"description", r.profile.description}, {"variables", r.profile.variables}}},
           {"site",
            {{"hostname", r.site.hostname},
             {"local_addresses", r.site.local_addresses},
             {"public_address", r.site.public_address}}},
           {"started_at", r.started_at},
           {"finished_at", r.finished_at},
           {"duration_ms", r.duration_ms},
           {"verdict", r.verdict},
           {"score", r.score},
           {"incomplete", r.incomplete},
           {"categories", categories},
           {"checks", r.checks}};
  if (r.incomplete) j["incomplete_reason"] = r.incomplete_reason;
  if (!r.root_causes.empty()) j["root_causes"] = r.root_causes;
}

void from_json(const json& j, Report& r) {
  get_opt(j, "schema", r.schema);
  if (auto it = j.find("tool"); it != j.end() && it->is_object()) {
    get_opt(*it, "name", r.tool_name);
    get_opt(*it, "version", r.tool_version);
  }
  if (auto it = j.find("profile"); it != j.end() && it->is_object()) {
    get_opt(*it, "name", r.profile.name);
    get_opt(*it, "description", r.profile.description);
    get_opt(*it, "variables", r.profile.variables);
  }
  if (auto it = j.find("site"); it != j.end() && it->is_object()) {
    get_opt(*it, "hostname", r.site.hostname);
    get_opt(*it, "local_addresses", r.site.local_addresses);
    get_opt(*it, "public_address", r.site.public_address);
  }
  get_opt(j, "started_at", r.started_at);
  get_opt(j, "finished_at", r.finished_at);
  get_opt(j, "duration_ms", r.duration_ms);
  get_opt(j, "verdict", r.verdict);
  get_opt(j, "score", r.score);
  get_opt(j, "incomplete", r.incomplete);
  get_opt(j, "incomplete_reason", r.incomplete_reason);
  r.categories.clear();
  if (auto it = j.find("categories"); it != j.end() && it->is_array()) {
    for (const auto& c : *it) {
      CategoryScore cs;
      get_opt(c, "name", cs.name);
      get_opt(c, "score", cs.score);
      get_opt(c, "verdict", cs.verdict);
      r.categories.push_back(cs);
    }
  }
  get_opt(j, "root_causes", r.root_causes);
  get_opt(j, "checks", r.checks);
}

}  // namespace callready
