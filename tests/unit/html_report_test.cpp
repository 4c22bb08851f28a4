// The HTML report: golden elements of a realistic report, the generic drawing
// of view blocks (tables, port strips, a matrix, bars) built by hand here,
// validity by a real HTML parser (html5lib), hostile strings rendered inert,
// no external resources, and the size of a 200-check report.
#include "reports/html_report.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <limits>

#include "probe/registry.hpp"
#include "reports/html_details.hpp"
#include "reports/svg.hpp"
#include "tests/support/process.hpp"

using namespace callready;
namespace t = callready::test;
using view::Tone;

namespace {

const std::string kSource = CALLREADY_SOURCE_DIR;

Report load_fixture(const std::string& name) {
  return json::parse(t::read_file(kSource + "/tests/fixtures/reports/" + name)).get<Report>();
}

// html5lib's view of the page (see html_report_validate.py).
json parse_html(const std::string& html) {
  t::TempDir dir;
  dir.write("report.html", html);
  auto r = t::run({"/usr/bin/python3", kSource + "/tests/unit/html_report_validate.py", dir.file("report.html")});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

int element_count(const json& parsed, const std::string& tag) { return parsed["counts"].value(tag, 0); }

// No way for the page to fetch anything: no URL but fragment links, no CSS
// url()/@import, no script, and a CSP that forbids loads anyway.
void check_self_contained(const std::string& html, const json& parsed) {
  CHECK(has(html, R"(content="default-src 'none'; style-src 'unsafe-inline'; img-src data:")"));
  for (const auto& u : parsed["urls"]) CHECK_MESSAGE(u.get<std::string>().rfind("#", 0) == 0, u);
  CHECK(element_count(parsed, "script") == 0);
  CHECK(element_count(parsed, "link") == 0);
  CHECK(element_count(parsed, "img") == 0);
  CHECK(element_count(parsed, "iframe") == 0);
  CHECK_FALSE(has(html, "url("));
  CHECK_FALSE(has(html, "@import"));
  CHECK_FALSE(has(html, "@font-face"));
}

// One check of a made-up kind, with a view the test draws by hand.
Report one_check_report(json details) {
  Report r;
  r.verdict = Verdict::degraded;
  r.categories = {{"media", 70, Verdict::degraded}};
  CheckRecord c;
  c.id = "made-up-1";
  c.kind = "made_up";
  c.category = "media";
  c.status = Status::warn;
  c.summary = "something to look at";
  c.details = std::move(details);
  r.checks = {c};
  return r;
}

view::Table diff_table() {
  view::Table t;
  t.caption = "Request as sent and as it arrived";
  t.headers = {"Field", "Sent", "Received"};
  t.rows = {{{"Via", Tone::plain, true},
             {"SIP/2.0/UDP 198.18.0.25:5060", Tone::plain, true},
             {"SIP/2.0/UDP 203.0.113.77:5060", Tone::bad, true}},
            {{"To", Tone::plain, true},
             {"<sip:a@example.com>", Tone::plain, true},
             {"<sip:a@example.com>", Tone::plain, true}},
            {{"X-Added", Tone::plain, true}, {""}, {"yes", Tone::warn}},
            {{"X-Gone", Tone::plain, true}, {"line one\nline two", Tone::plain, true, true}, {"", Tone::muted}},
            {{"Plain"}, {"a"}, {"a"}}};
  t.changes = {view::RowChange::changed, view::RowChange::same, view::RowChange::added, view::RowChange::removed};
  return t;
}

view::PortStrip strip() {
  view::PortStrip s;
  s.caption = "Ports by state";
  s.spans = {{8600, 8636, view::PortState::blocked},
             {8500, 8599, view::PortState::open},
             {8637, 8637, view::PortState::rejected},
             {19560, 19661, view::PortState::open},
             {19662, 19700, view::PortState::untested}};
  return s;
}

view::Matrix matrix() {
  view::Matrix m;
  m.caption = "Suites by version";
  m.columns = {{"v1.0", Tone::bad}, {"v1.2", Tone::good}, {"v1.3", Tone::plain}};
  m.rows = {{"SUITE_A", {Tone::bad, Tone::good, Tone::muted}},
            {"SUITE_B", {Tone::muted, Tone::muted, Tone::plain}},
            {"SUITE_C", {Tone::muted}}};  // short row: the rest is absent
  m.legend_good = "allowed by policy P";
  m.legend_bad = "not allowed by P";
  m.legend_plain = "accepted, unjudged";
  return m;
}

view::Bar unmeasured_bar() {
  view::Bar b;
  b.caption = "Largest packet that crossed";
  b.min = 0;
  b.max = 1600;
  b.unit = "bytes";
  b.thresholds = {{1500, "1500 required", Tone::warn}, {1300, "1300 minimum", Tone::bad}};
  b.tone = Tone::bad;
  b.note = "Larger packets vanish without an error.";
  return b;
}

}  // namespace

TEST_CASE("a not-ready report renders every part a reader needs, as valid HTML") {
  Report r = load_fixture("not_ready.json");
  std::string html = render_html(r);
  json parsed = parse_html(html);

  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(parsed["h1"] == "Not ready");
  CHECK(has(html, R"(<header class="verdict v-not-ready">)"));
  CHECK(has(html, R"(<span class="score-n">54</span>)"));
  check_self_contained(html, parsed);

  const std::string text = parsed["text"];
  // Site facts.
  for (const char* fact : {"branch-042-lab", "198.18.0.25, 2001:db8:42::25", "203.0.113.77", "2026-11-21T09:14:03Z",
                           "8.1 s", "webex-calling", "domain=example.com", "sbc=sbc1.example.com", "callready 0.1.0"})
    CHECK_MESSAGE(has(text, fact), fact);
  CHECK(has(text, "14 checks: 5 passed, 3 warned, 4 failed, 1 not tested, 1 skipped"));

  // Top findings: critical ones first, each with its fix and the requirement's source.
  auto top_begin = html.find(R"(<ol class="findings">)"), top_end = html.find("</ol>", top_begin);
  REQUIRE(top_begin != std::string::npos);
  std::string top = html.substr(top_begin, top_end - top_begin);
  CHECK(count(top, "<li class=\"finding sev-critical\">") == 5);  // all five critical findings...
  CHECK(count(top, "<li class=\"finding sev-warning\">") == 1);   // ...then the first warning
  CHECK(top.rfind("sev-critical") < top.find("sev-warning"));
  CHECK_FALSE(has(top, "sev-info"));
  CHECK(has(top, "Allow outbound TCP 5062"));
  CHECK(has(top, "Disable SIP ALG (&quot;SIP inspection&quot;"));
  CHECK(has(top, "<cite>000_657a5ed6fe137e34.txt § SIP アプリケーション層ゲートウェイ"));
  CHECK(has(html, "3 more findings are listed"));
  // The timed-out check is listed as not tested, with its reason.
  CHECK(has(text, "stun-9000: The scan deadline passed before STUN on 9000 finished. (timeout)"));

  // Categories with scores; every check is a native <details> with a stable anchor.
  CHECK(element_count(parsed, "details") == 14);
  CHECK(element_count(parsed, "summary") == 14);
  for (int i = 0; i < 14; ++i)
    CHECK(std::count(parsed["ids"].begin(), parsed["ids"].end(), "c" + std::to_string(i)) == 1);
  CHECK(has(html, "40/100 · Not ready"));
  CHECK(has(html, "90/100 · Degraded"));
  // A failing check comes before a passing one in its category.
  CHECK(html.find("id=\"c4\"") < html.find("id=\"c3\""));
  // Failing checks open by default; the rest wait for a click.
  CHECK(count(html, "\" open>") == 4);
  CHECK(has(html, R"(<details class="check st-fail" id="c11" open>)"));

  // Without views every check's details are one generic table: nested
  // objects as dotted keys, lists of objects with [i], nothing left out.
  CHECK(element_count(parsed, "svg:svg") == 0);
  CHECK(count(html, "<caption>Measurements</caption>") == 12);  // all but the error and the skipped check
  CHECK(has(html, R"(<td class="mono">per_class[1].class</td><td class="">AF41</td>)"));
  CHECK(has(html, R"(<td class="mono">certificate.chain_complete</td><td class="flag">no</td>)"));
  CHECK(has(html, R"(<td class="mono">answers[0].target</td><td class="">sbc1.example.com</td>)"));
  CHECK(has(text, "sbc1.example.com, sip.example.com"));
}

TEST_CASE("a ready report says so and lists nothing to change") {
  std::string html = render_html(load_fixture("ready.json"));
  json parsed = parse_html(html);
  CHECK(parsed["errors"].empty());
  CHECK(parsed["h1"] == "Ready");
  CHECK(has(html, "No warnings or critical findings."));
  CHECK_FALSE(has(html, "Not tested</h3>"));
  check_self_contained(html, parsed);
}

TEST_CASE("errors and failing findings name the step that failed") {
  Report r = one_check_report(json::object());
  r.checks[0].findings = {{Severity::critical, "made_up.refused", "refused", "", "", Operation::connect},
                          {Severity::info, "made_up.note", "a note", "", "", Operation::none}};
  CheckRecord e = r.checks[0];
  e.id = "made-up-2";
  e.status = Status::error;
  e.findings.clear();
  e.error = CheckError{ErrorReason::setup, Operation::control, "the responder does not serve UDP 9000"};
  r.checks.push_back(e);
  std::string html = render_html(r);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(has(html, "Could not test (setup, control): the responder does not serve UDP 9000"));
  CHECK(has(parsed["text"].get<std::string>(), "made-up-2: the responder does not serve UDP 9000 (setup, control)"));
  CHECK(has(html, R"(<span class="mono muted">made_up.refused · connect</span>)"));
  CHECK(has(html, R"(<span class="mono muted">made_up.note</span>)"));
  CHECK(has(html, R"(failed at <span class="mono">connect</span>)"));  // in "What to change"
}

TEST_CASE("a table block: headers, cell tones and fonts, diff marks per row") {
  Report r = one_check_report({{"sent", {{"Via", "x"}}}, {"received", {{"Via", "y"}}}, {"transport", "udp"}});
  auto view_of = [](const CheckRecord&) {
    view::View v;
    v.blocks.push_back(diff_table());
    v.shown_keys = {"sent", "received"};
    return v;
  };
  std::string html = render_html(r, view_of);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(has(html, "<caption>Request as sent and as it arrived</caption>"));
  CHECK(has(html, "<th>Field</th><th>Sent</th><th>Received</th>"));
  CHECK(has(
      html,
      R"(<tr class="diff-changed"><td class="mono">Via</td><td class="mono">SIP/2.0/UDP 198.18.0.25:5060</td><td class="mono bad">SIP/2.0/UDP 203.0.113.77:5060</td></tr>)"));
  CHECK(count(html, R"(<tr class="diff-same">)") == 1);
  CHECK(has(html,
            R"(<tr class="diff-added"><td class="mono">X-Added</td><td class=""></td><td class="warn">yes</td></tr>)"));
  CHECK(has(html, R"(<tr class="diff-removed"><td class="mono">X-Gone</td><td class="mono pre">line one)"));
  CHECK(has(html, R"(<td class="muted"></td>)"));
  CHECK(has(html, R"(<tr class=""><td class="">Plain</td>)"));  // past the changes: unmarked
  // The keys the view showed are not repeated; the rest still render.
  CHECK(has(html, "<caption>Measurements</caption>"));
  CHECK(has(html, R"(<td class="mono">transport</td><td class="">udp</td>)"));
  CHECK_FALSE(has(html, R"(<td class="mono">sent.Via</td>)"));
  CHECK_FALSE(has(html, R"(<td class="mono">received.Via</td>)"));
  // Measurements before the view's tables.
  CHECK(html.find("<caption>Measurements</caption>") < html.find("<caption>Request as sent"));
}

TEST_CASE("a port strip: one strip per contiguous run, spans coloured by state") {
  auto s = svg::port_strip(strip());
  CHECK(count(s, "<svg ") == 1);
  CHECK(has(s, R"(aria-label="Ports by state")"));
  CHECK(count(s, "class=\"pic-title\"") == 2);  // 8500-8637 and 19560-19700
  CHECK(has(s, "8500\u20138637 \u00b7 100 open, 37 blocked, 1 rejected"));
  CHECK(has(s, "19560\u201319700 \u00b7 102 open, 39 untested"));
  CHECK(has(s, R"(<rect class="port-blocked" x=)"));
  CHECK(has(s, R"(<rect class="port-rejected" x=)"));
  CHECK(has(s, R"(<rect class="port-untested" x=)"));
  CHECK(has(s, "<title>8600\u20138636 blocked</title>"));
  CHECK(has(s, "<title>8637 rejected</title>"));
  CHECK(count(s, "class=\"tick\"") == 2);  // under each closed span
  CHECK(has(s, ">untested</text>"));       // in the legend, as some port is
  CHECK(has(svg::port_strip({}), "No port was tested."));
  // Reversed and edge spans draw without wrapping around.
  auto edge = svg::port_strip({"", {{65535, 65530, view::PortState::open}, {0, 0, view::PortState::blocked}}});
  CHECK(has(edge, "65530\u201365535 \u00b7 6 open"));
  CHECK(has(edge, "0 \u00b7 0 open, 1 blocked"));
  CHECK_FALSE(has(edge, ">untested</text>"));
}

TEST_CASE("a matrix: columns and rows by tone, the legend in the view's words") {
  auto s = svg::matrix(matrix());
  CHECK(has(s, R"(aria-label="Suites by version")"));
  CHECK(has(s, R"(class="pic-title bad">v1.0</text>)"));
  CHECK(has(s, R"(class="pic-title good">v1.2</text>)"));
  CHECK(has(s, R"(class="pic-title plain">v1.3</text>)"));
  CHECK(count(s, "<rect class=\"t-") - 4 == 9);  // 3 rows x 3 columns, plus 4 legend boxes
  CHECK(has(s, "<title>SUITE_A v1.0: not allowed by P</title>"));
  CHECK(has(s, "<title>SUITE_A v1.2: allowed by policy P</title>"));
  CHECK(has(s, "<title>SUITE_B v1.3: accepted, unjudged</title>"));
  CHECK(has(s, "<title>SUITE_C v1.3: absent</title>"));  // a short row is padded
  for (const char* legend :
       {">allowed by policy P</text>", ">not allowed by P</text>", ">accepted, unjudged</text>", ">absent</text>"})
    CHECK_MESSAGE(has(s, legend), legend);
  // The legend lists only the tones the cells use.
  view::Matrix plain_only = matrix();
  for (auto& row : plain_only.rows) row.cells.assign(3, Tone::plain);
  auto p = svg::matrix(plain_only);
  CHECK(has(p, ">accepted, unjudged</text>"));
  CHECK_FALSE(has(p, ">allowed by policy P</text>"));
  CHECK_FALSE(has(p, ">absent</text>"));
  CHECK(has(svg::matrix({}), "Nothing to show."));
}

TEST_CASE("a bar: the value in its tone, thresholds as labelled lines, or nothing measured") {
  auto none = svg::bar(unmeasured_bar());
  CHECK(has(none, "not measured"));
  CHECK(has(none, R"(aria-label="Largest packet that crossed: not measured")"));
  CHECK(has(none, R"(<rect class="t-muted")"));
  CHECK(count(none, R"(<line class="limit")") == 2);
  CHECK(has(none, R"(text-anchor="end" class="halo bad">1300 minimum</text>)"));  // lowest line: label to its left
  // The next would run off the picture to the right and onto the first: left of it, one line down.
  CHECK(has(none, R"(y="26" text-anchor="end" class="halo warn">1500 required</text>)"));
  CHECK(has(none, R"(class="bad">Larger packets vanish without an error.</text>)"));
  CHECK(has(none, ">1600 bytes</text>"));

  view::Bar b = unmeasured_bar();
  b.value = 1420;
  b.tone = Tone::warn;
  b.note.clear();
  auto warn = svg::bar(b);
  CHECK(has(warn, R"(<rect class="t-warn" x="0")"));
  CHECK(has(warn, ">1420 bytes</text>"));
  CHECK(has(warn, R"(aria-label="Largest packet that crossed: 1420 bytes")"));
  CHECK_FALSE(has(warn, "not measured"));
  // 1300 sits at 1300/1600 of 640 px.
  CHECK(has(warn, R"(<line class="limit" x1="520.00" x2="520.00")"));

  // No scale given: one that holds the value and every line; labels that
  // would overlap go on a second line; an unlabelled line says its value.
  view::Bar auto_scale;
  auto_scale.value = 12.5;
  auto_scale.unit = "ms";
  auto_scale.tone = Tone::good;
  auto_scale.thresholds = {{30, "", Tone::warn}, {31, "a long threshold label", Tone::bad}};
  auto a = svg::bar(auto_scale);
  CHECK(has(a, R"(<rect class="t-good")"));
  CHECK(has(a, ">12.5 ms</text>"));
  CHECK(has(a, ">30 ms</text>"));
  CHECK(has(a, R"(y="26" text-anchor="end" class="halo bad">a long threshold label</text>)"));
  CHECK(has(a, "33.17 ms</text>"));  // 31 * 1.07
  // Not a number: nothing measured.
  auto_scale.value = std::numeric_limits<double>::quiet_NaN();
  CHECK(has(svg::bar(auto_scale), "not measured"));
}

TEST_CASE("view blocks render in a page: pictures, then measurements, then tables") {
  Report r = one_check_report({{"ports", "8500-8700"}, {"mtu", nullptr}, {"suites", {"SUITE_A"}}, {"host", "h"}});
  auto view_of = [](const CheckRecord&) {
    view::View v;
    v.blocks = {diff_table(), strip(), matrix(), unmeasured_bar()};
    v.shown_keys = {"ports", "mtu", "suites", "no-such-key"};
    return v;
  };
  std::string html = render_html(r, view_of);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  check_self_contained(html, parsed);
  CHECK(element_count(parsed, "svg:svg") == 3);
  CHECK(element_count(parsed, "figure") == 3);
  CHECK(has(html, "<figcaption>Ports by state</figcaption>"));
  CHECK(has(html, "<figcaption>Suites by version</figcaption>"));
  CHECK(has(html, "<figcaption>Largest packet that crossed</figcaption>"));
  CHECK(html.find("<figcaption>Ports by state") < html.find("<figcaption>Suites by version"));
  CHECK(html.find("<figcaption>Largest packet") < html.find("<caption>Measurements</caption>"));
  CHECK(html.find("<caption>Measurements</caption>") < html.find("<caption>Request as sent"));
  CHECK(has(html, R"(<td class="mono">host</td><td class="">h</td>)"));
  CHECK_FALSE(has(html, R"(<td class="mono">ports</td>)"));

  // A view that shows every key leaves no generic table.
  auto all_shown = [](const CheckRecord&) {
    view::View v;
    v.blocks = {strip()};
    v.shown_keys = {"ports", "mtu", "suites", "host"};
    return v;
  };
  CHECK_FALSE(has(render_html(r, all_shown), "<caption>Measurements</caption>"));
}

TEST_CASE("a view that cannot read the details leaves the generic table") {
  Report r = one_check_report({{"ports", "8500-8700"}});
  auto throws = [](const CheckRecord&) -> view::View { throw std::runtime_error("ports is not a list"); };
  std::string html = render_html(r, throws);
  json parsed = parse_html(html);
  CHECK(parsed["errors"].empty());
  CHECK(has(html, "<caption>Measurements (no picture: ports is not a list)</caption>"));
  CHECK(has(html, R"(<td class="mono">ports</td><td class="">8500-8700</td>)"));
  Report empty = one_check_report(json::object());
  CHECK(has(render_html(empty, throws), "<caption>Measurements (no picture: ports is not a list)</caption>"));
}

TEST_CASE("hostile strings in every field render inert") {
  const std::string evil = R"(<script>alert("x")</script><img src=x onerror=alert(1)> ' & {{site}} </details>)";
  Report r;
  r.tool_version = evil;
  r.profile = {evil, evil, {{evil, evil}}};
  r.site = {evil, {evil, evil}, evil};
  r.started_at = r.finished_at = evil;
  r.verdict = Verdict::not_ready;
  r.incomplete = true;
  r.incomplete_reason = evil;
  r.categories = {{evil, 10, Verdict::not_ready}};
  Finding f{Severity::critical, evil, evil, evil, evil, Operation::connect};
  auto check = [&](json details) {
    CheckRecord c;
    c.id = c.category = c.target = c.summary = c.kind = evil;
    c.status = Status::fail;
    c.requirement = {evil, evil};
    c.error = CheckError{ErrorReason::setup, Operation::control, evil};
    c.findings = {f};
    c.details = std::move(details);
    return c;
  };
  r.checks = {check({{evil, {{evil, {evil, {{evil, evil}}}}}}}), check({{evil, evil}, {"k", evil}}), check(evil)};
  // A view with the same string in every text it carries.
  auto view_of = [&](const CheckRecord&) {
    view::View v;
    view::Table t;
    t.caption = evil;
    t.headers = {evil, evil};
    t.rows = {{{evil, Tone::bad, true, true}, {evil}}, {{evil}}};
    t.changes = {view::RowChange::changed};
    view::PortStrip s{evil, {{1, 2, view::PortState::open}, {3, 3, view::PortState::blocked}}};
    view::Matrix m;
    m.caption = m.legend_good = m.legend_bad = m.legend_plain = evil;
    m.columns = {{evil, Tone::bad}, {evil, Tone::good}};
    m.rows = {{evil, {Tone::good, Tone::bad}}, {evil, {Tone::plain, Tone::muted}}};
    view::Bar b;
    b.caption = b.unit = b.note = evil;
    b.value = 3;
    b.max = 10;
    b.thresholds = {{5, evil, Tone::warn}, {7, evil, Tone::bad}};
    v.blocks = {t, s, m, b};
    v.shown_keys = {"k", evil};
    return v;
  };
  std::string html = render_html(r, view_of);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(element_count(parsed, "script") == 0);
  CHECK(element_count(parsed, "img") == 0);
  CHECK(element_count(parsed, "details") == 3);  // no field closed a <details> early
  CHECK(element_count(parsed, "svg:svg") == 9);
  CHECK(parsed["urls"].empty() == false);                                                // fragment links only...
  for (const auto& u : parsed["urls"]) CHECK(u.get<std::string>().rfind("#c", 0) == 0);  // ...and no onerror=
  CHECK_FALSE(has(html, "<script"));
  CHECK_FALSE(has(html, "<img"));
  CHECK(has(html, "{{site}}"));  // data is never read as a template
  // The reader sees the strings exactly as they arrived, many times over.
  const std::string text = parsed["text"];
  std::size_t seen = count(text, evil);
  CHECK_MESSAGE(seen >= 60, seen);
  // SVG text (labels, titles, legends, units) is escaped by the renderer itself.
  std::size_t escaped = count(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  CHECK_MESSAGE(escaped >= 100, escaped);
}

TEST_CASE("an unknown kind falls back to a key/value table of every detail") {
  CheckRecord c;
  c.kind = "jitter";
  c.details = {{"samples", {1, 2, 3}}, {"stats", {{"p95_ms", 12.5}, {"lost", false}}}, {"empty", json::array()}};
  auto view = html::detail_view(c);
  CHECK(view.pictures.empty());
  REQUIRE(view.tables.size() == 1);
  const auto& rows = view.tables[0].rows;
  REQUIRE(rows.size() == 4);
  CHECK(rows[0][0].text == "empty");
  CHECK(rows[0][1].text == "(none)");
  CHECK(rows[1][1].text == "1, 2, 3");
  CHECK(rows[2][0].text == "stats.lost");
  CHECK(rows[2][1].text == "no");
  CHECK(rows[3][1].text == "12.5");
  // The registry has no view for it either.
  CHECK(check_view(c).blocks.empty());
}

TEST_CASE("a saved report renders through the kinds' views (check_view)") {
  Report r = load_fixture("not_ready.json");
  std::string html = render_html(r, &check_view);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  check_self_contained(html, parsed);
  CHECK(element_count(parsed, "details") == 14);
  // dns: SRV answers in try order, in the view's table, not in the generic one.
  CHECK(has(html, "<th>Priority</th><th>Weight</th><th>Port</th><th>Target</th>"));
  CHECK_FALSE(has(html, R"(<td class="mono">answers[0].target</td>)"));
  // udp_range: one strip per check, the port lists out of the generic table.
  CHECK(count(html, R"(aria-label="UDP ports per tested range")") == 2);
  CHECK(has(html, R"(class="port-blocked" x=)"));
  CHECK(has(html, R"(class="port-rejected" x=)"));
  CHECK_FALSE(has(html, R"(<td class="mono">blocked</td>)"));
  // tls: the matrix; pmtu: the bar; sip_alg: the field diff, changed rows marked.
  CHECK(element_count(parsed, "svg:svg") == 4);             // matrix, two strips, bar
  CHECK(count(html, R"(<tr class="diff-changed">)") == 3);  // Via, Contact, c=
  for (const char* shown : {R"(<td class="mono">versions.)", R"(<td class="mono">path_mtu</td>)",
                            R"(<td class="mono">sent.)", R"(<td class="mono">received.)"})
    CHECK_FALSE_MESSAGE(has(html, shown), shown);
  // Details of a shape the kind's view does not know (an older dscp) fall back to the generic table.
  CHECK(has(html, R"(<td class="mono">per_class[1].class</td><td class="">AF41</td>)"));
}

TEST_CASE("200 checks render as one page under 1 MB") {
  Report base = load_fixture("not_ready.json");
  Report r = base;
  r.checks.clear();
  for (int i = 0; r.checks.size() < 200; ++i) {
    CheckRecord c = base.checks[static_cast<std::size_t>(i) % base.checks.size()];
    c.id += "-" + std::to_string(i);
    r.checks.push_back(std::move(c));
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string html = render_html(r, &check_view);
  // Time is reported, not asserted: timing claims belong in benchmarks.
  MESSAGE("200 checks: " << html.size() << " bytes in "
                         << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()
                         << " ms");
  CHECK(html.size() < 1'000'000);
  CHECK(count(html, "<details class=\"check") == 200);
  CHECK(count(html, "</details>") == 200);
}
