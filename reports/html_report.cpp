#include "reports/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <stdexcept>

#include "probe/embedded.hpp"
#include "reports/html_details.hpp"

namespace callready {
namespace {

namespace mu = kainjow::mustache;

// How many findings the top of the report lists before "see below".
constexpr std::size_t kTopFindings = 6;

std::string template_text(const char* name) {
  auto text = embedded_file(std::string("templates/") + name);
  if (!text) throw std::logic_error(std::string("HTML template not embedded: ") + name);
  return std::string(*text);
}

const char* verdict_text(Verdict v) {
  switch (v) {
    case Verdict::ready:
      return "Ready";
    case Verdict::degraded:
      return "Degraded";
    case Verdict::not_ready:
      return "Not ready";
    case Verdict::unknown:
      return "Unknown";
  }
  return "Unknown";
}

const char* verdict_meaning(Verdict v) {
  switch (v) {
    case Verdict::ready:
      return "Calls should work from this site. Nothing needs to change.";
    case Verdict::degraded:
      return "Calls will work, but quality or resilience is at risk until the items below are fixed.";
    case Verdict::not_ready:
      return "Calls will fail or break from this site until the items below are fixed.";
    case Verdict::unknown:
      return "callready could not decide: too few checks were able to run.";
  }
  return "";
}

const char* status_text(Status s) {
  switch (s) {
    case Status::pass:
      return "Pass";
    case Status::warn:
      return "Warning";
    case Status::fail:
      return "Fail";
    case Status::error:
      return "Not tested";
    case Status::skipped:
      return "Skipped";
  }
  return "";
}

// Lower is more urgent: the order checks and findings are listed in.
int status_rank(Status s) {
  switch (s) {
    case Status::fail:
      return 0;
    case Status::error:
      return 1;
    case Status::warn:
      return 2;
    case Status::pass:
      return 3;
    case Status::skipped:
      return 4;
  }
  return 5;
}

std::string css_name(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

mu::data text_list(const std::vector<std::string>& items) {
  mu::list l;
  for (const auto& s : items) l.push_back(mu::object{{"text", s}});
  return l;
}

mu::data table_data(const html::Table& t) {
  mu::list rows;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    mu::list cells;
    for (const auto& c : t.rows[i]) cells.push_back(mu::object{{"text", c.text}, {"cls", c.cls}});
    rows.push_back(mu::object{{"cells", cells}, {"cls", i < t.row_classes.size() ? t.row_classes[i] : ""}});
  }
  return mu::object{{"caption", t.caption},
                    {"has_headers", !t.headers.empty()},
                    {"headers", text_list(t.headers)},
                    {"kv", t.headers.empty()},
                    {"rows", rows}};
}

// The requirement a finding cites: the rule's structured text + source when
// the report carries it, else the finding's own "text [source]" string.
std::pair<std::string, std::string> cited(const CheckRecord& c, const Finding& f) {
  if (!c.requirement.text.empty() || !c.requirement.source.empty()) return {c.requirement.text, c.requirement.source};
  return {f.requirement, ""};
}

mu::data finding_data(const CheckRecord& c, const Finding& f, const std::string& anchor) {
  auto [req_text, req_source] = cited(c, f);
  return mu::object{{"severity", to_string(f.severity)},
                    {"code", f.code},
                    {"message", f.message},
                    {"remediation", f.remediation},
                    {"has_remediation", !f.remediation.empty()},
                    {"requirement_text", req_text},
                    {"requirement_source", req_source},
                    {"has_requirement", !req_text.empty() || !req_source.empty()},
                    {"has_source", !req_source.empty()},
                    {"operation", to_string(f.operation)},
                    {"has_operation", f.operation != Operation::none},
                    {"anchor", anchor},
                    {"check_id", c.id}};
}

// "timeout" or "setup, control": why a check could not test, and the step.
std::string error_cause(const CheckError& e) {
  std::string out = to_string(e.reason);
  if (e.operation != Operation::none) out += std::string(", ") + to_string(e.operation);
  return out;
}

// The kind's view of the check; a view that cannot read these details (a
// report from another version, a hand-edited file) leaves the generic table.
html::DetailView details_of(const CheckRecord& c, const ViewOf& view_of) {
  view::View v;
  std::string broken;
  if (view_of) {
    try {
      v = view_of(c);
    } catch (const std::exception& e) {
      v = {};
      broken = e.what();
    }
  }
  auto out = html::detail_view(c, v);
  if (!broken.empty()) {
    std::string caption = "Measurements (no picture: " + broken + ")";
    if (out.tables.empty())
      out.tables.push_back(html::Table{caption, {}, {}, {}});
    else
      out.tables.front().caption = caption;
  }
  return out;
}

mu::data check_data(const CheckRecord& c, const std::string& anchor, const ViewOf& view_of) {
  mu::list findings;
  for (const auto& f : c.findings) findings.push_back(finding_data(c, f, anchor));
  auto view = details_of(c, view_of);
  mu::list pictures, tables;
  for (const auto& p : view.pictures) pictures.push_back(mu::object{{"svg", p.svg}, {"caption", p.caption}});
  for (const auto& t : view.tables) tables.push_back(table_data(t));
  return mu::object{{"anchor", anchor},
                    {"id", c.id},
                    {"kind", c.kind},
                    {"target", c.target},
                    {"has_target", !c.target.empty()},
                    {"status", to_string(c.status)},
                    {"status_text", status_text(c.status)},
                    {"open", c.status == Status::fail},  // what failed is shown without a click
                    {"summary", c.summary},
                    {"duration", duration_text(c.duration_ms)},
                    {"rule_severity", to_string(c.severity)},
                    {"requirement_text", c.requirement.text},
                    {"requirement_source", c.requirement.source},
                    {"has_requirement", !c.requirement.text.empty() || !c.requirement.source.empty()},
                    {"has_error", c.error.has_value()},
                    {"error_reason", c.error ? error_cause(*c.error) : std::string()},
                    {"error_message", c.error ? c.error->message : ""},
                    {"findings", findings},
                    {"has_findings", !c.findings.empty()},
                    {"pictures", pictures},
                    {"tables", tables}};
}

bool under_root_cause(const Report& r, const std::string& id) {
  return std::any_of(r.root_causes.begin(), r.root_causes.end(), [&](const RootCause& cause) {
    return std::find(cause.checks.begin(), cause.checks.end(), id) != cause.checks.end();
  });
}

struct Ranked {
  const CheckRecord* check;
  const Finding* finding;
  std::size_t check_index;
};

mu::data top_findings(const Report& r, std::size_t& more) {
  std::vector<Ranked> all;
  for (std::size_t i = 0; i < r.checks.size(); ++i)
    for (const auto& f : r.checks[i].findings)  // a root cause's checks are said once, above
      if (f.severity != Severity::info && !under_root_cause(r, r.checks[i].id)) all.push_back({&r.checks[i], &f, i});
  std::stable_sort(all.begin(), all.end(), [](const Ranked& a, const Ranked& b) {
    if (a.finding->severity != b.finding->severity) return a.finding->severity > b.finding->severity;
    if (a.check->severity != b.check->severity) return a.check->severity > b.check->severity;
    return status_rank(a.check->status) < status_rank(b.check->status);
  });
  more = all.size() > kTopFindings ? all.size() - kTopFindings : 0;
  mu::list out;
  for (std::size_t i = 0; i < std::min(all.size(), kTopFindings); ++i)
    out.push_back(finding_data(*all[i].check, *all[i].finding, fmt::format("c{}", all[i].check_index)));
  return out;
}

mu::data categories_data(const Report& r, const ViewOf& view_of) {
  // Categories in the report's order, then any a check names that scoring did not.
  std::vector<CategoryScore> cats = r.categories;
  for (const auto& c : r.checks)
    if (std::none_of(cats.begin(), cats.end(), [&](auto& k) { return k.name == c.category; }))
      cats.push_back({c.category, -1, Verdict::unknown});
  mu::list out;
  for (const auto& cat : cats) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < r.checks.size(); ++i)
      if (r.checks[i].category == cat.name) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](auto a, auto b) { return status_rank(r.checks[a].status) < status_rank(r.checks[b].status); });
    mu::list checks;
    for (auto i : idx) checks.push_back(check_data(r.checks[i], fmt::format("c{}", i), view_of));
    // Nothing ran (every check errored or was skipped): not tested, not a score of 0.
    bool ran = std::any_of(idx.begin(), idx.end(), [&](auto i) {
      auto s = r.checks[i].status;
      return s == Status::pass || s == Status::warn || s == Status::fail;
    });
    out.push_back(mu::object{{"name", cat.name.empty() ? std::string("Uncategorised") : cat.name},
                             {"has_score", cat.score >= 0 && ran},
                             {"not_tested", !ran},
                             {"score", std::to_string(std::clamp(cat.score, 0, 100))},
                             {"verdict", css_name(to_string(cat.verdict))},
                             {"verdict_text", verdict_text(cat.verdict)},
                             {"count", std::to_string(idx.size())},
                             {"checks", checks}});
  }
  return out;
}

// Root causes first: each named once, with links to the checks it explains.
mu::data root_causes_data(const Report& r) {
  mu::list out;
  for (const auto& cause : r.root_causes) {
    mu::list checks;
    for (const auto& id : cause.checks)
      if (const auto* c = find_check(r, id))
        checks.push_back(mu::object{{"id", id}, {"anchor", fmt::format("c{}", c - r.checks.data())}});
    out.push_back(mu::object{{"message", cause.message.empty() ? cause.code : cause.message},
                             {"code", cause.code},
                             {"count_text", root_cause_effect(r, cause)},
                             {"checks", checks}});
  }
  return out;
}

mu::data untested(const Report& r) {
  mu::list out;
  for (std::size_t i = 0; i < r.checks.size(); ++i) {
    const auto& c = r.checks[i];
    if (c.status != Status::error || under_root_cause(r, c.id)) continue;  // listed under its cause
    out.push_back(mu::object{{"anchor", fmt::format("c{}", i)},
                             {"id", c.id},
                             {"reason", c.error ? error_cause(*c.error) : std::string("error")},
                             {"message", c.error ? c.error->message : c.summary}});
  }
  return out;
}

std::string status_counts(const Report& r) {
  int n[5] = {0, 0, 0, 0, 0};
  for (const auto& c : r.checks) ++n[static_cast<int>(c.status)];
  std::string out = fmt::format("{} checks: {} passed", r.checks.size(), n[0]);
  if (n[1]) out += fmt::format(", {} warned", n[1]);
  if (n[2]) out += fmt::format(", {} failed", n[2]);
  if (n[3]) out += fmt::format(", {} not tested", n[3]);
  if (n[4]) out += fmt::format(", {} skipped", n[4]);
  return out;
}

mu::data site_data(const Report& r) {
  mu::list vars;
  for (const auto& [k, v] : r.profile.variables) vars.push_back(mu::object{{"name", k}, {"value", v}});
  std::string locals;
  for (const auto& a : r.site.local_addresses) locals += (locals.empty() ? "" : ", ") + a;
  return mu::object{{"hostname", r.site.hostname.empty() ? std::string("unknown host") : r.site.hostname},
                    {"local_addresses", locals},
                    {"has_local", !locals.empty()},
                    {"public_address", r.site.public_address},
                    {"has_public", !r.site.public_address.empty()},
                    {"profile_name", r.profile.name},
                    {"profile_description", r.profile.description},
                    {"has_description", !r.profile.description.empty()},
                    {"variables", vars},
                    {"has_variables", !vars.empty()}};
}

}  // namespace

std::string render_html(const Report& r, const ViewOf& view_of) {
  mu::mustache page(template_text("report.html.mustache"));
  if (!page.is_valid()) throw std::logic_error("report.html.mustache: " + page.error_message());
  std::size_t more = 0;
  mu::data top = top_findings(r, more);
  mu::data not_tested = untested(r);
  mu::data causes = root_causes_data(r);
  mu::data d = mu::object{
      {"css", template_text("report.css")},
      {"verdict", css_name(to_string(r.verdict))},
      {"verdict_text", verdict_text(r.verdict)},
      {"verdict_meaning", verdict_meaning(r.verdict)},
      {"score", std::to_string(std::clamp(r.score, 0, 100))},
      {"incomplete", r.incomplete},
      {"incomplete_reason", r.incomplete_reason},
      {"site", site_data(r)},
      {"started_at", r.started_at},
      {"finished_at", r.finished_at},
      {"duration", duration_text(r.duration_ms)},
      {"tool", r.tool_name + " " + r.tool_version},
      {"schema", r.schema},
      {"counts", status_counts(r)},
      {"top", top},
      {"has_top", !top.list_value().empty()},
      {"more", std::to_string(more)},
      {"has_more", more > 0},
      {"root_causes", causes},
      {"has_root_causes", !causes.list_value().empty()},
      {"untested", not_tested},
      {"has_untested", !not_tested.list_value().empty()},
      {"categories", categories_data(r, view_of)},
  };
  return page.render(d);
}

}  // namespace callready
