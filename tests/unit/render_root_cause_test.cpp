// The first run, as a newcomer reads it: root causes first and once, a
// category where nothing ran says "not tested", no bare severity lines, a
// duration that never reads "0.0 s", a shared skip hint said once.
#include <doctest/doctest.h>

#include <sstream>

#include "reports/html_report.hpp"
#include "reports/render.hpp"

using namespace callready;

namespace {
const char* kHint = "Skipped: needs --set responder=HOST (run `callready respond` there)";
const char* kNoDns = "DNS does not work here (the DNS server this machine uses cannot be reached)";

CheckRecord stopped(std::string id, std::string category) {
  CheckRecord c;
  c.id = id;
  c.kind = "tcp";
  c.category = std::move(category);
  c.status = Status::error;
  c.summary = "Cannot connect to " + id + ".example.test: it could not be resolved (timeout)";
  c.error = CheckError{ErrorReason::dependency, Operation::resolve, c.summary, Cause{"dns.unreachable", kNoDns}};
  return c;
}

// What the default scan in an empty network namespace gives.
Report first_run() {
  Report r;
  r.tool_version = "9.9.9";
  r.profile.name = "webex-calling";
  r.site.hostname = "laptop";
  r.duration_ms = 40;
  r.verdict = Verdict::not_ready;
  CheckRecord dns;
  dns.id = "dns-srv";
  dns.kind = "dns";
  dns.category = "dns";
  dns.status = Status::fail;
  dns.summary = "The DNS server 10.0.0.53:53 could not be reached (Could not contact DNS servers)";
  dns.findings = {Finding{Severity::critical, "dns.unreachable", dns.summary, "Check the resolver address", "",
                          Operation::resolve, true, Cause{"dns.unreachable", kNoDns}}};
  r.checks.push_back(dns);
  CheckRecord tls;  // a failure of its own, its finding's message as its summary
  tls.id = "tls-edge";
  tls.category = "tls";
  tls.status = Status::fail;
  tls.summary = "certificate expired";
  tls.findings = {Finding{Severity::critical, "tls.expired", tls.summary, "Renew the certificate", "TLS [seed]"}};
  r.checks.push_back(tls);
  for (int i = 0; i < 10; ++i) r.checks.push_back(stopped("tcp-" + std::to_string(i), i < 5 ? "signalling" : "media"));
  for (const char* id : {"stun-5004", "udp-range", "pmtu", "sip-alg"}) {
    CheckRecord s;
    s.id = id;
    s.category = "media";
    s.status = Status::skipped;
    s.summary = kHint;
    r.checks.push_back(s);
  }
  r.categories = {{"dns", 0, Verdict::not_ready},
                  {"tls", 0, Verdict::not_ready},
                  {"signalling", 0, Verdict::unknown},
                  {"media", 0, Verdict::unknown}};
  RootCause cause{"dns.unreachable", kNoDns, {"dns-srv"}};
  for (int i = 0; i < 10; ++i) cause.checks.push_back("tcp-" + std::to_string(i));
  r.root_causes = {cause};
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("text: the root cause comes first and once, the checks it stopped listed under it") {
  auto text = render_text(first_run());
  auto lines = lines_of(text);
  std::string headline = std::string("Root cause: ") + kNoDns + ": 1 check failed and 10 could not run because of it";
  auto at = std::find(lines.begin(), lines.end(), headline);
  REQUIRE(at != lines.end());
  auto first_category = std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.rfind("dns  ", 0) == 0; });
  REQUIRE(first_category != lines.end());
  CHECK(at < first_category);
  CHECK(first_category - lines.begin() < 25);
  CHECK(count(text, kNoDns) == 1);
  CHECK(*(at + 1) == "  fix: Check the resolver address");  // from the check that found it
  CHECK(*(at + 2) == "  dns-srv, tcp-0, tcp-1, tcp-2, tcp-3, tcp-4, tcp-5, tcp-6, tcp-7, tcp-8, tcp-9");
  // Each check under the cause is one line pointing at it, with no fix or citation of its own.
  CHECK(count(text, "could not run: root cause 1 above") == 10);
  CHECK(text.find("FAIL dns-srv") != std::string::npos);
  CHECK(text.find("(root cause 1 above)") != std::string::npos);
  CHECK(count(text, "it could not be resolved") == 0);
  CHECK(count(text, "Check the resolver address") == 1);
}

TEST_CASE("text: a category where nothing ran is not tested") {
  auto text = render_text(first_run());
  CHECK(text.find("signalling  not tested") != std::string::npos);
  CHECK(text.find("media  not tested") != std::string::npos);
  CHECK(text.find("dns  not ready (0/100)") != std::string::npos);
  CHECK(text.find("unknown (0/100)") == std::string::npos);
}

TEST_CASE("text: no finding line is a bare severity") {
  auto text = render_text(first_run());  // the tls finding's message is its check's summary
  for (const auto& line : lines_of(text)) {
    auto trimmed = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    CHECK_MESSAGE(trimmed.rfind("critical", 0) != 0, line);
    CHECK_MESSAGE(trimmed.rfind("warning", 0) != 0, line);
  }
  CHECK(text.find("FAIL tls-edge                     certificate expired") != std::string::npos);
  CHECK(count(text, "certificate expired") == 1);
  CHECK(text.find("         fix: Renew the certificate") != std::string::npos);  // its fix is still said
  CHECK(text.find("         requirement: TLS [seed]") != std::string::npos);
}

TEST_CASE("durations read sensibly, never 0.0 s") {
  CHECK(duration_text(40) == "40 ms");
  CHECK(duration_text(0) == "< 1 ms");
  CHECK(duration_text(1500) == "1.5 s");
  CHECK(duration_text(125'000) == "2 min 5 s");
  auto text = render_text(first_run());
  CHECK(text.find("; 40 ms)") != std::string::npos);
  CHECK(text.find("0.0 s") == std::string::npos);
}

TEST_CASE("text: a skip hint several checks share is said once, with the checks it would enable") {
  auto text = render_text(first_run());
  CHECK(count(text, "needs --set responder=HOST") == 1);
  CHECK(text.find("4 checks skipped: needs --set responder=HOST (run `callready respond` there)\n") !=
        std::string::npos);
  CHECK(count(text, "(skipped: see above)") == 4);
  CHECK(text.find("  stun-5004, udp-range, pmtu, sip-alg") != std::string::npos);
  // A reason only one check has stays on its line.
  auto r = first_run();
  r.checks.back().summary = "only this one";
  text = render_text(r);
  CHECK(text.find("3 checks skipped") != std::string::npos);
  CHECK(text.find("only this one") != std::string::npos);
}

TEST_CASE("JSON and HTML name the root cause once, with its checks") {
  auto r = first_run();
  auto j = json::parse(render_json(r));
  REQUIRE(j["root_causes"].size() == 1);
  CHECK(j["root_causes"][0]["code"] == "dns.unreachable");
  CHECK(j["root_causes"][0]["message"] == kNoDns);
  CHECK(j["root_causes"][0]["checks"].size() == 11);
  CHECK(j["checks"][2]["error"]["reason"] == "dependency");
  CHECK(j["checks"][2]["error"]["cause"] == "dns.unreachable");
  CHECK(json::parse(render_json(j.get<Report>())) == j);

  auto html = render_html(r, {});
  auto cause = html.find("Root cause</h2>");
  REQUIRE(cause != std::string::npos);
  CHECK(cause < html.find("What to change"));
  CHECK(html.find(std::string("<strong>") + kNoDns + "</strong>: 1 check failed and 10 could not run because of it") !=
        std::string::npos);
  CHECK(html.find("<a href=\"#c2\" class=\"mono\">tcp-0</a>") != std::string::npos);
  CHECK(count(html, "<span class=\"cat-score\">Not tested</span>") == 2);  // signalling and media
  // The checks under the cause are not listed again at the top: not the one
  // that found it among "What to change", not the stopped ones under "Not tested".
  auto top =
      html.substr(html.find("What to change"), html.find("<section class=\"category") - html.find("What to change"));
  CHECK(top.find("could not be reached") == std::string::npos);
  CHECK(top.find("certificate expired") != std::string::npos);
  CHECK(html.find("<ul class=\"untested\">") == std::string::npos);
}
