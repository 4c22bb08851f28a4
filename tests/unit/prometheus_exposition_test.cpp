// The Prometheus exposition of a report: families under one header, label
// escaping, one-hot verdict and statuses, failure reasons, the kinds'
// samples, and the series count of every built-in module.
#include <doctest/doctest.h>

#include <regex>
#include <sstream>

#include "probe/exporter/modules.hpp"
#include "probe/profile.hpp"
#include "probe/registry.hpp"
#include "reports/prometheus.hpp"

using namespace callready;

namespace {

CheckRecord record(std::string id, std::string kind, Status status) {
  CheckRecord c;
  c.id = std::move(id);
  c.kind = std::move(kind);
  c.category = "media";
  c.status = status;
  c.duration_ms = 1500;
  return c;
}

Report report_of(Verdict verdict, std::vector<CheckRecord> checks) {
  Report r;
  r.verdict = verdict;
  r.score = 54;
  r.checks = std::move(checks);
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("a family's series share one HELP and TYPE header even when added apart") {
  prometheus::Exposition e;
  e.add("a_total", "first", "counter", {{"x", "1"}}, 1);
  e.add("b", "second", "gauge", {}, 2);
  e.add("a_total", "first", "counter", {{"x", "2"}}, 3);
  CHECK(e.text() ==
        "# HELP a_total first\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 3\n"
        "# HELP b second\n# TYPE b gauge\nb 2\n");
  CHECK(e.series_count() == 3);
}

TEST_CASE("label values escape backslash, quote and line feed, values print NaN and infinities") {
  CHECK(prometheus::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(prometheus::format_value(metrics::not_measured) == "NaN");
  CHECK(prometheus::format_value(1.0 / 0.0) == "+Inf");
  CHECK(prometheus::format_value(0.023) == "0.023");
  CHECK(prometheus::format_value(1500) == "1500");
}

TEST_CASE("a summary writes name_sum and name_count under one header") {
  prometheus::Exposition e;
  e.add_summary("d_seconds", "durations", {{"module", "m"}}, 2.5, 4);
  CHECK(e.text() ==
        "# HELP d_seconds durations\n# TYPE d_seconds summary\nd_seconds_sum{module=\"m\"} 2.5\n"
        "d_seconds_count{module=\"m\"} 4\n");
}

TEST_CASE("probe_success is 1 for ready and degraded, 0 for not_ready and unknown") {
  for (auto [verdict, success] : {std::pair{Verdict::ready, 1}, std::pair{Verdict::degraded, 1},
                                  std::pair{Verdict::not_ready, 0}, std::pair{Verdict::unknown, 0}}) {
    auto text = render_prometheus(report_of(verdict, {}), {});
    CHECK(has_line(text, "probe_success " + std::to_string(success)));
    // The verdict is one-hot over the four verdicts.
    for (auto v : {Verdict::ready, Verdict::degraded, Verdict::not_ready, Verdict::unknown})
      CHECK(has_line(text, fmt::format("callready_verdict{{verdict=\"{}\"}} {}", to_string(v), v == verdict ? 1 : 0)));
  }
}

TEST_CASE("each check's status is one-hot with its kind and category, and its duration in seconds") {
  auto text = render_prometheus(report_of(Verdict::not_ready, {record("udp-media", "udp_range", Status::fail)}),
                                {nullptr, 2.25, {{"udp-media", 1767225600}}});
  CHECK(has_line(text, "probe_duration_seconds 2.25"));
  CHECK(has_line(text, "callready_score 54"));
  CHECK(text.find("status=\"skipped\"") == std::string::npos);
  for (auto s : {"pass", "warn", "fail", "error"})
    CHECK(
        has_line(text, fmt::format("callready_check_status{{check=\"udp-media\",kind=\"udp_range\",category=\"media\","
                                   "status=\"{}\"}} {}",
                                   s, std::string(s) == "fail" ? 1 : 0)));
  CHECK(has_line(text, "callready_check_duration_seconds{check=\"udp-media\"} 1.5"));
  CHECK(has_line(text, "callready_check_last_run_timestamp_seconds{check=\"udp-media\"} 1767225600"));
}

TEST_CASE("a skipped check answers its skipped status alone") {
  auto skipped = record("nat-udp", "nat_timeout", Status::skipped);
  auto text = render_prometheus(report_of(Verdict::ready, {skipped}), {&check_metrics, 1, {}});
  CHECK(has_line(text,
                 "callready_check_status{check=\"nat-udp\",kind=\"nat_timeout\",category=\"media\","
                 "status=\"skipped\"} 1"));
  CHECK(text.find("status=\"pass\"") == std::string::npos);
  CHECK(text.find("callready_check_duration_seconds{check=\"nat-udp\"}") == std::string::npos);
  CHECK(text.find("callready_nat_binding") == std::string::npos);
}

TEST_CASE("failure reasons: the error's reason and the codes of warning and critical findings, once each") {
  auto err = record("stun-9000", "stun", Status::error);
  err.error = CheckError{ErrorReason::setup, Operation::control, "the responder does not serve 9000"};
  auto failed = record("sip-alg-udp", "sip_alg", Status::fail);
  failed.findings = {{Severity::critical, "sip_alg.rewritten", "Via rewritten"},
                     {Severity::critical, "sip_alg.rewritten", "Contact rewritten"},
                     {Severity::info, "sip_alg.info_only", "noted"}};
  auto text = render_prometheus(report_of(Verdict::not_ready, {err, failed}), {});
  CHECK(has_line(text, "callready_check_failure_reason{check=\"stun-9000\",reason=\"setup\"} 1"));
  CHECK(has_line(text, "callready_check_failure_reason{check=\"sip-alg-udp\",reason=\"sip_alg.rewritten\"} 1"));
  CHECK(text.find("sip_alg.info_only") == std::string::npos);
  auto lines = lines_of(text);
  auto reasons = std::count_if(lines.begin(), lines.end(),
                               [](const std::string& l) { return l.starts_with("callready_check_failure_reason{"); });
  CHECK(reasons == 2);
}

TEST_CASE("the kinds' samples carry the check label first, then their own") {
  MetricsOf metrics = [](const CheckRecord& c) {
    return metrics::Samples{
        {"callready_tls_version_supported", "h", "", {{"version", "tls1.3"}}, 1},
        {"callready_tcp_connect_seconds", "h", "s", {}, c.id == "b" ? metrics::not_measured : 0.023}};
  };
  auto text = render_prometheus(
      report_of(Verdict::ready, {record("a", "tcp", Status::pass), record("b", "tcp", Status::pass)}), {metrics});
  CHECK(has_line(text, "callready_tls_version_supported{check=\"a\",version=\"tls1.3\"} 1"));
  CHECK(has_line(text, "callready_tcp_connect_seconds{check=\"a\"} 0.023"));
  CHECK(has_line(text, "callready_tcp_connect_seconds{check=\"b\"} NaN"));
  CHECK(std::count(text.begin(), text.end(), '#') == 2 * 8);  // 8 families, one HELP and one TYPE each
}

TEST_CASE("every line of the exposition is a header or a well-formed sample") {
  auto c = record("x\"y", "tcp", Status::error);
  c.error = CheckError{ErrorReason::timeout, Operation::none, "late"};
  c.details = {{"connected", false}};
  auto text = render_prometheus(report_of(Verdict::unknown, {c}), {&check_metrics, 1, {}});
  std::regex sample(
      R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (NaN|[+-]Inf|-?[0-9.e+-]+))re");
  for (const auto& line : lines_of(text)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    CHECK_MESSAGE(std::regex_match(line, sample), line);
  }
}

// Bounded cardinality: each built-in module's /probe answer, every check
// failing with one reason (the most series a scrape can return), a last-run
// time for the checks the exporter runs in the background. The budget
// grows with the checks a profile has (the four-way status one-hot,
// duration and error series are per check), but not with anything a scan
// finds. The issue's goal is < 300 for a module.
TEST_CASE("every built-in module answers fewer than 300 series, at most 12 per check") {
  auto modules = exporter::load_modules("");
  REQUIRE(modules.set);
  for (const auto& info : list_builtin_profiles()) {
    REQUIRE(modules.set->modules.count(info.name));
    const auto& module = *modules.set->modules.at(info.name);
    Report r = report_of(Verdict::not_ready, {});
    for (const auto& rule : module.profile.checks) {
      auto c = record(rule.id, rule.kind, Status::error);
      c.category = rule.category;
      c.error = CheckError{ErrorReason::timeout, Operation::none, "late"};
      if (rule.kind == "dscp") {  // its series grow with its classes: count every class in both families
        auto classes = rule.params.value("classes", json::array({"EF", "AF41", "CS3", "CS0"}));
        for (std::size_t i = 0; i < 2 * classes.size(); ++i)
          c.details["classes"].push_back({{"name", std::to_string(i / 2)}, {"family", i % 2 ? "ipv6" : "ipv4"}});
      }
      r.checks.push_back(c);
    }
    std::map<std::string, double> last_run;
    for (const auto& id : module.background) last_run[id] = 1;
    prometheus::Exposition e;
    add_report(e, r, {&check_metrics, 1, last_run});
    MESSAGE("module ", info.name, ": ", r.checks.size(), " checks, ", e.series_count(), " series");
    CHECK(e.series_count() < 300);
    CHECK(e.series_count() <= 12 * r.checks.size());
  }
}
