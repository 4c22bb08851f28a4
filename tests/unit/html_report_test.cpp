// The HTML report: golden elements of a realistic report, validity by a real
// HTML parser (html5lib), hostile strings rendered inert, no external
// resources, and the size/time budget for 200 checks.
#include "reports/html_report.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <regex>

#include "reports/html_details.hpp"
#include "reports/svg.hpp"
#include "tests/support/process.hpp"

using namespace callready;
namespace t = callready::test;

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

int element_count(const json& parsed, const std::string& tag) { return parsed["counts"].value(tag, 0); }

// No way for the page to fetch anything: no URL but fragment links, no CSS
// url()/@import, no script, and a CSP that forbids loads anyway.
void check_self_contained(const std::string& html, const json& parsed) {
  CHECK(html.find(R"(content="default-src 'none'; style-src 'unsafe-inline'; img-src data:")") != std::string::npos);
  for (const auto& u : parsed["urls"]) CHECK_MESSAGE(u.get<std::string>().rfind("#", 0) == 0, u);
  CHECK(element_count(parsed, "script") == 0);
  CHECK(element_count(parsed, "link") == 0);
  CHECK(element_count(parsed, "img") == 0);
  CHECK(element_count(parsed, "iframe") == 0);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("@font-face") == std::string::npos);
}

}  // namespace

TEST_CASE("a not-ready report renders every part a reader needs, as valid HTML") {
  Report r = load_fixture("not_ready.json");
  std::string html = render_html(r);
  json parsed = parse_html(html);

  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(parsed["h1"] == "Not ready");
  CHECK(html.find(R"(<header class="verdict v-not-ready">)") != std::string::npos);
  CHECK(html.find(R"(<span class="score-n">54</span>)") != std::string::npos);
  check_self_contained(html, parsed);

  const std::string text = parsed["text"];
  // Site facts.
  for (const char* fact : {"branch-042-lab", "198.18.0.25, 2001:db8:42::25", "203.0.113.77", "2026-11-21T09:14:03Z",
                           "8.1 s", "webex-calling", "domain=example.com", "sbc=sbc1.example.com", "callready 0.1.0"})
    CHECK_MESSAGE(text.find(fact) != std::string::npos, fact);
  CHECK(text.find("14 checks: 5 passed, 3 warned, 4 failed, 1 not tested, 1 skipped") != std::string::npos);

  // Top findings: critical ones first, each with its fix and the requirement's source.
  auto top_begin = html.find(R"(<ol class="findings">)"), top_end = html.find("</ol>", top_begin);
  REQUIRE(top_begin != std::string::npos);
  std::string top = html.substr(top_begin, top_end - top_begin);
  CHECK(count(top, "<li class=\"finding sev-critical\">") == 5);  // all five critical findings...
  CHECK(count(top, "<li class=\"finding sev-warning\">") == 1);   // ...then the first warning
  CHECK(top.rfind("sev-critical") < top.find("sev-warning"));
  CHECK(top.find("sev-info") == std::string::npos);
  CHECK(top.find("Allow outbound TCP 5062") != std::string::npos);
  CHECK(top.find("Disable SIP ALG (&quot;SIP inspection&quot;") != std::string::npos);
  CHECK(top.find("<cite>000_657a5ed6fe137e34.txt § SIP アプリケーション層ゲートウェイ") != std::string::npos);
  CHECK(html.find("3 more findings are listed") != std::string::npos);
  // The timed-out check is listed as not tested, with its reason.
  CHECK(text.find("stun-9000: The scan deadline passed before STUN on 9000 finished. (timeout)") != std::string::npos);

  // Categories with scores; every check is a native <details> with a stable anchor.
  CHECK(element_count(parsed, "details") == 14);
  CHECK(element_count(parsed, "summary") == 14);
  for (int i = 0; i < 14; ++i)
    CHECK(std::count(parsed["ids"].begin(), parsed["ids"].end(), "c" + std::to_string(i)) == 1);
  CHECK(html.find("40/100 · Not ready") != std::string::npos);
  CHECK(html.find("90/100 · Degraded") != std::string::npos);
  // A failing check comes before a passing one in its category.
  CHECK(html.find("id=\"c4\"") < html.find("id=\"c3\""));

  // Pictures: TLS matrix, two port strips, the MTU bar; the SIP ALG diff side by side.
  CHECK(element_count(parsed, "svg:svg") == 4);
  CHECK(count(html, "aria-label=\"TLS versions and cipher suites") == 1);
  CHECK(count(html, "aria-label=\"UDP port ranges") == 2);
  CHECK(count(html, "aria-label=\"Path MTU") == 1);
  CHECK(html.find(R"(class="port-blocked" x=)") != std::string::npos);
  CHECK(html.find(R"(class="port-rejected" x=)") != std::string::npos);
  CHECK(html.find(R"(class="mtu-warn")") != std::string::npos);
  // Judged by the webex-signaling policy: TLS 1.0 is outside it, as is RSA key exchange with 1.2.
  CHECK(count(html, "accepted (forbidden)</title>") == 3);
  CHECK(count(html, "accepted (allowed)</title>") == 7);
  CHECK(html.find("TLS_RSA_WITH_AES_128_CBC_SHA tls1.2: accepted (forbidden)") != std::string::npos);
  CHECK(html.find("TLS_AES_128_GCM_SHA256 tls1.3: accepted (allowed)") != std::string::npos);
  CHECK(html.find(R"(class="bad">accepted</text>)") != std::string::npos);  // the TLS 1.0 column
  CHECK(html.find("judged by policy webex-signaling") != std::string::npos);
  CHECK(html.find("<caption>Certificate chain as served (leaf first)</caption>") != std::string::npos);
  CHECK(html.find("<caption>SIP request as sent and as it arrived, field by field</caption>") != std::string::npos);
  CHECK(count(html, "<tr class=\"diff-changed\">") == 3);  // Via, Contact, c=
  CHECK(count(html, "<tr class=\"diff-same\">") == 5);
  CHECK(
      html.find(
          R"(<tr class="diff-changed"><td class="mono">c=</td><td class="mono pre">IN IP4 198.18.0.25</td><td class="mono pre">IN IP4 203.0.113.77</td></tr>)") !=
      std::string::npos);
  // Failing checks open by default; the rest wait for a click.
  CHECK(count(html, "\" open>") == 4);
  CHECK(html.find(R"(<details class="check st-fail" id="c11" open>)") != std::string::npos);
  // Raw details: SRV in try order, certificate flags, the generic table of an unknown kind.
  CHECK(html.find("<th>Priority</th><th>Weight</th><th>Port</th><th>Target</th>") != std::string::npos);
  CHECK(html.find(R"(<td class="mono">chain_complete</td><td class="bad">no</td>)") != std::string::npos);
  CHECK(html.find(R"(<td class="mono">per_class[1].class</td><td class="">AF41</td>)") != std::string::npos);
  CHECK(text.find("sbc1.example.com, sip.example.com") != std::string::npos);
}

TEST_CASE("a ready report says so and lists nothing to change") {
  std::string html = render_html(load_fixture("ready.json"));
  json parsed = parse_html(html);
  CHECK(parsed["errors"].empty());
  CHECK(parsed["h1"] == "Ready");
  CHECK(html.find("No warnings or critical findings.") != std::string::npos);
  CHECK(html.find("Not tested</h3>") == std::string::npos);
  check_self_contained(html, parsed);
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
  Finding f{Severity::critical, evil, evil, evil, evil};
  auto check = [&](std::string kind, json details) {
    CheckRecord c;
    c.id = c.category = c.target = c.summary = evil;
    c.kind = std::move(kind);
    c.status = Status::fail;
    c.requirement = {evil, evil};
    c.error = CheckError{evil, evil};
    c.findings = {f};
    c.details = std::move(details);
    return c;
  };
  r.checks = {
      check("dns",
            {{"name", evil}, {"type", "SRV"}, {"answers", {{{"target", evil}, {"port", evil}, {"priority", 1}}}}}),
      check("dns", {{"name", evil}, {"type", "A"}, {"answers", {evil}}}),
      check("tls",
            {{"versions", {{evil, {{"supported", true}, {"ciphers", {evil}}}}}},
             {"certificate", {{"subject", evil}, {"san", {evil}}, {evil, evil}, {"chain", {{{"subject", evil}}}}}},
             {"policy", evil}}),
      check("tls",
            {{"versions", {{"tls1.2", {{"supported", true}, {"ciphers", {evil}}}}}}, {"policy", "webex-signaling"}}),
      check("udp_range", {{"open", {evil, "1-2"}}, {"blocked", {evil}}, {evil, evil}}),
      check("pmtu", {{"path_mtu", evil}, {evil, evil}}),
      check("sip_alg", {{"sent", {evil, "Via: a"}}, {"received", evil + "\r\nVia: b"}}),
      check("sip_alg", {{"sent", {{evil, evil}, {"Via", evil}}}, {"received", {{"Via", evil + "\n" + evil}}}}),
      check(evil, {{evil, {{evil, {evil, {{evil, evil}}}}}}}),
  };
  std::string html = render_html(r);
  json parsed = parse_html(html);
  CHECK_MESSAGE(parsed["errors"].empty(), parsed["errors"].dump(1));
  CHECK(element_count(parsed, "script") == 0);
  CHECK(element_count(parsed, "img") == 0);
  CHECK(element_count(parsed, "details") == 9);  // no field closed a <details> early
  CHECK(parsed["urls"].empty() == false);        // fragment links only...
  for (const auto& u : parsed["urls"]) CHECK(u.get<std::string>().rfind("#c", 0) == 0);  // ...and no onerror=
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("{{site}}") != std::string::npos);  // data is never read as a template
  // The reader sees the strings exactly as they arrived, many times over.
  const std::string text = parsed["text"];
  std::size_t seen = count(text, evil);
  CHECK_MESSAGE(seen >= 60, seen);
  // SVG text (TLS matrix labels, titles) is escaped by the renderer itself.
  CHECK(count(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 60);
}

TEST_CASE("port spans parse strictly and strips split at gaps") {
  CHECK(svg::parse_port_span("8500-8699", svg::PortState::open)->last == 8699);
  CHECK(svg::parse_port_span("19600", svg::PortState::blocked)->first == 19600);
  CHECK_FALSE(svg::parse_port_span("9-1", svg::PortState::open));
  CHECK_FALSE(svg::parse_port_span("1-70000", svg::PortState::open));
  CHECK_FALSE(svg::parse_port_span("x", svg::PortState::open));
  CHECK_FALSE(svg::parse_port_span("", svg::PortState::open));
  auto s = svg::port_strip({{8500, 8599, svg::PortState::open},
                            {8600, 8636, svg::PortState::blocked},
                            {19560, 19661, svg::PortState::open}});
  CHECK(count(s, "class=\"pic-title\"") == 2);  // two contiguous ranges, two strips
  CHECK(s.find("UDP 8500\u20138636 \u00b7 100 open, 37 blocked") != std::string::npos);
  CHECK(s.find("UDP 19560\u201319661 \u00b7 102 open") != std::string::npos);
}

TEST_CASE("the MTU bar is coloured against the 1300 and 1500 lines") {
  CHECK(svg::mtu_bar(1500, false).find("mtu-good") != std::string::npos);
  CHECK(svg::mtu_bar(1420, false).find("mtu-warn") != std::string::npos);
  CHECK(svg::mtu_bar(1280, false).find("mtu-bad") != std::string::npos);
  CHECK(svg::mtu_bar(std::nullopt, true).find("not measured") != std::string::npos);
  CHECK(svg::mtu_bar(1280, true).find("black hole") != std::string::npos);
  CHECK(count(svg::mtu_bar(1420, false), "class=\"limit\"") == 2);
}

TEST_CASE("an unknown kind falls back to a key/value table of every detail") {
  CheckRecord c;
  c.kind = "jitter";
  c.details = {{"samples", {1, 2, 3}}, {"stats", {{"p95_ms", 12.5}, {"lost", false}}}, {"empty", json::array()}};
  auto view = html::detail_view(c);
  REQUIRE(view.tables.size() == 1);
  const auto& rows = view.tables[0].rows;
  REQUIRE(rows.size() == 4);
  CHECK(rows[0][0].text == "empty");
  CHECK(rows[0][1].text == "(none)");
  CHECK(rows[1][1].text == "1, 2, 3");
  CHECK(rows[2][0].text == "stats.lost");
  CHECK(rows[2][1].text == "no");
  CHECK(rows[3][1].text == "12.5");
}

TEST_CASE("200 checks render under 1 MB in under 100 ms") {
  Report base = load_fixture("not_ready.json");
  Report r = base;
  r.checks.clear();
  for (int i = 0; r.checks.size() < 200; ++i) {
    CheckRecord c = base.checks[static_cast<std::size_t>(i) % base.checks.size()];
    c.id += "-" + std::to_string(i);
    r.checks.push_back(std::move(c));
  }
  std::string html;
  double best_ms = 1e9;
  for (int run = 0; run < 3; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    html = render_html(r);
    best_ms =
        std::min(best_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  MESSAGE("200 checks: " << html.size() << " bytes, best of 3 renders " << best_ms << " ms");
  CHECK(html.size() < 1'000'000);
  CHECK(best_ms < 100.0);
  CHECK(count(html, "<details class=\"check") == 200);
}
