// A real browser (headless Chromium) opens the rendered report from a file:
// the page shows its verdict and asks for no network resource. Chromium runs
// inside an empty network namespace (unshare -n): its own background traffic
// cannot leave the machine. Requests are read from Chromium's net log; the
// page's own ones carry initiator "null" (a file: origin), the browser's own
// "not an origin". A control page with an <img> on 127.0.0.1 proves the log
// does show page requests.
#include <doctest/doctest.h>
#include <unistd.h>

#include "probe/registry.hpp"
#include "reports/html_report.hpp"
#include "tests/support/process.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
namespace t = callready::test;

namespace {

// Pages in a PDF Chromium printed (each page object is "/Type /Page").
int pdf_pages(const std::string& pdf) {
  int n = 0;
  for (auto p = pdf.find("/Type /Page"); p != std::string::npos; p = pdf.find("/Type /Page", p + 1))
    if (pdf.compare(p, 12, "/Type /Pages") != 0) ++n;
  return n;
}

int print_pages(const t::TempDir& dir, const std::string& file) {
  auto r = t::run({"unshare", "-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--user-data-dir=" + dir.file("print-" + file), "--no-pdf-header-footer",
                   "--print-to-pdf=" + dir.file(file + ".pdf"), "file://" + dir.file(file)},
                  std::chrono::seconds(90));
  REQUIRE(r.exit_code == 0);
  return pdf_pages(t::read_file(dir.file(file + ".pdf")));
}

struct Load {
  bool ran = false;
  std::string dom;
  std::vector<std::string> page_requests;  // http(s)/ws/ftp URLs the page asked for
};

Load load_in_chromium(const t::TempDir& dir, const std::string& file, const std::string& screenshot = {}) {
  Load out;
  std::vector<std::string> argv = {"unshare",
                                   "-n",
                                   "chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + dir.file("profile-" + file),
                                   "--log-net-log=" + dir.file(file + ".netlog")};
  if (screenshot.empty())
    argv.push_back("--dump-dom");
  else
    argv.insert(argv.end(), {"--window-size=1000,3200", "--hide-scrollbars", "--screenshot=" + screenshot});
  argv.push_back("file://" + dir.file(file));
  auto r = t::run(argv, std::chrono::seconds(90));
  if (r.exit_code != 0) {
    MESSAGE("chromium failed: " << r.err.substr(0, 2000));
    return out;
  }
  out.ran = true;
  out.dom = r.out;
  json log = json::parse(t::read_file(dir.file(file + ".netlog")), nullptr, false);
  REQUIRE_FALSE(log.is_discarded());
  for (const auto& e : log.value("events", json::array())) {
    const json& p = e.value("params", json::object());
    if (p.is_object() && p.value("initiator", "") == "null" && p.contains("url")) {
      std::string url = p["url"];
      if (url.rfind("file:", 0) != 0 && url.rfind("data:", 0) != 0) out.page_requests.push_back(url);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("Chromium loads the report offline, shows the verdict and requests nothing") {
  if (!t::have_program("chromium") || !t::have_program("unshare") || geteuid() != 0)
    CALLREADY_SKIP("needs chromium, unshare and root (for an empty network namespace)");
  auto report = json::parse(t::read_file(std::string(CALLREADY_SOURCE_DIR) + "/tests/fixtures/reports/not_ready.json"))
                    .get<Report>();
  const std::string html = render_html(report, &check_view);  // with the kinds' pictures
  t::TempDir dir;
  dir.write("report.html", html);
  // Control: the same page without its CSP and with one remote image.
  std::string bad = html;
  bad.replace(bad.find("<meta http-equiv=\"Content-Security-Policy\""), 0, "<!-- ");
  bad.replace(bad.find("img-src data:\">") + 15, 0, " -->");
  bad.replace(bad.find("<main>"), 6, "<main><img src=\"http://127.0.0.1:1/pixel.png\" alt=\"\">");
  dir.write("control.html", bad);

  Load page = load_in_chromium(dir, "report.html");
  REQUIRE(page.ran);
  CHECK(page.dom.find("<h1 id=\"verdict\">Not ready</h1>") != std::string::npos);
  CHECK(page.dom.find("sip-alg-udp") != std::string::npos);
  CHECK(page.dom.find("<svg class=\"pic\"") != std::string::npos);
  CHECK_MESSAGE(page.page_requests.empty(), json(page.page_requests).dump());

  Load control = load_in_chromium(dir, "control.html");
  REQUIRE(control.ran);
  REQUIRE(control.page_requests.size() == 1);
  CHECK(control.page_requests[0] == "http://127.0.0.1:1/pixel.png");

  // On paper every detail is expanded: the report prints to as many pages as
  // the same report with every <details> opened by hand, and to more than the
  // page with the print rule removed.
  std::string all_open = html, no_rule = html;
  for (auto p = all_open.find("<details "); p != std::string::npos; p = all_open.find("<details ", p + 1))
    all_open.replace(p, 9, "<details open ");
  no_rule.replace(no_rule.find("details.check::details-content"), 30, "details.check-no-such-class");
  dir.write("all_open.html", all_open);
  dir.write("no_rule.html", no_rule);
  int printed = print_pages(dir, "report.html");
  MESSAGE("printed pages: " << printed);
  CHECK(printed == print_pages(dir, "all_open.html"));
  CHECK(printed > print_pages(dir, "no_rule.html"));

  // The picture a reviewer looks at (CALLREADY_SCREENSHOT=path keeps a copy).
  Load shot = load_in_chromium(dir, "report.html", dir.file("report.png"));
  REQUIRE(shot.ran);
  CHECK(shot.page_requests.empty());
  std::string png = t::read_file(dir.file("report.png"));
  CHECK(png.size() > 50'000);
  CHECK(png.substr(1, 3) == "PNG");
  if (const char* keep = std::getenv("CALLREADY_SCREENSHOT")) {
    auto r = t::run({"cp", dir.file("report.png"), keep});
    CHECK(r.exit_code == 0);
  }
}
