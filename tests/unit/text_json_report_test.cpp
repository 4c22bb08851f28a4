// The text and JSON renderers of the report model, and the JSON round trip.
#include <doctest/doctest.h>

#include "reports/render.hpp"
#include "tests/support/process.hpp"

using namespace callready;

namespace {
Report sample() {
  Report r;
  r.tool_version = "9.9.9";
  r.profile = {"p", "desc", {{"domain", "example.test"}}};
  r.site = {"site-host", {"198.18.0.2"}, "203.0.113.1"};
  r.started_at = "2026-01-01T00:00:00.000Z";
  r.finished_at = "2026-01-01T00:00:01.500Z";
  r.duration_ms = 1500;
  r.verdict = Verdict::not_ready;
  r.score = 40;
  r.categories = {{"dns", 40, Verdict::not_ready}};
  CheckRecord c;
  c.id = "dns-srv";
  c.kind = "dns";
  c.category = "dns";
  c.target = "_sips._tcp.example.test SRV";
  c.status = Status::fail;
  c.summary = "nope";
  c.requirement = {"SRV must exist", "002 § DNS"};
  c.findings = {{Severity::critical, "dns.nxdomain", "does not exist", "publish it", "SRV must exist [002 § DNS]"},
                {Severity::warning, "dns.slow", "answered slowly", "", "", Operation::receive}};
  c.details = {{"name", "_sips._tcp.example.test"}, {"answers", json::array()}};
  CheckRecord e = c;
  e.id = "timed-out";
  e.status = Status::error;
  e.error = CheckError{ErrorReason::timeout, Operation::none, "did not finish within 5 ms"};
  e.findings.clear();
  CheckRecord s = e;
  s.id = "no-responder";
  s.error = CheckError{ErrorReason::setup, Operation::control, "the responder does not serve UDP 9000"};
  r.checks = {c, e, s};
  return r;
}
}  // namespace

TEST_CASE("JSON has the contract's keys and round-trips") {
  auto r = sample();
  auto j = json::parse(render_json(r));
  CHECK(j["schema"] == "callready.report/v1");
  CHECK(j["tool"]["name"] == "callready");
  CHECK(j["verdict"] == "not_ready");
  CHECK(j["checks"][0]["findings"][0]["severity"] == "critical");
  CHECK_FALSE(j["checks"][0]["findings"][0].contains("operation"));  // a finding about what was measured
  CHECK(j["checks"][0]["findings"][1]["operation"] == "receive");
  // No step failed: operation is null.
  CHECK(j["checks"][1]["error"] ==
        json{{"reason", "timeout"}, {"operation", nullptr}, {"message", "did not finish within 5 ms"}});
  CHECK(j["checks"][2]["error"]["reason"] == "setup");
  CHECK(j["checks"][2]["error"]["operation"] == "control");
  CHECK(j["categories"][0]["verdict"] == "not_ready");
  auto back = j.get<Report>();
  CHECK(render_json(back) == render_json(r));
}

TEST_CASE("the text summary: verdict first, each failing finding with its fix and requirement") {
  auto t = render_text(sample(), {false});
  CHECK(t.find("Verdict: NOT READY  score 40/100") != std::string::npos);
  CHECK(t.find("FAIL dns-srv") != std::string::npos);
  CHECK(t.find("critical: does not exist") != std::string::npos);
  auto same = sample();
  same.checks[0].summary = same.checks[0].findings[0].message;
  auto t2 = render_text(same, {false});
  CHECK(t2.find("critical: does not exist") == std::string::npos);  // said once, in the summary
  CHECK(t2.find("       critical\n") == std::string::npos);         // never a bare severity
  CHECK(t2.find("fix: publish it") != std::string::npos);           // the fix still is
  CHECK(t.find("fix: publish it") != std::string::npos);
  CHECK(t.find("requirement: SRV must exist [002 § DNS]") != std::string::npos);
  CHECK(t.find("error (timeout): did not finish within 5 ms") != std::string::npos);
  CHECK(t.find("error (setup, control): the responder does not serve UDP 9000") != std::string::npos);
  CHECK(t.find("warning (receive): answered slowly") != std::string::npos);
  CHECK(t.find('\x1b') == std::string::npos);
  CHECK(render_text(sample(), {true}).find("\x1b[1;31mNOT READY") != std::string::npos);
}

TEST_CASE("formats follow the extension, and files are written atomically") {
  CHECK(format_for_path("a.json") == ReportFormat::json);
  CHECK(format_for_path("a.HTML") == ReportFormat::html);
  CHECK(format_for_path("a.txt") == ReportFormat::text);
  CHECK_FALSE(format_for_path("a.pdf"));
  test::TempDir dir;
  CHECK(write_file_atomically(dir.file("r.json"), "{}\n").empty());
  CHECK(test::read_file(dir.file("r.json")) == "{}\n");
  CHECK_FALSE(write_file_atomically(dir.file("missing/r.json"), "x").empty());
}
