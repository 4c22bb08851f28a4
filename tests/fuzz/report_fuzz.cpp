// A saved report: the loader (bounded depth, the schema's rules) and every
// renderer of what it accepts (JSON, text, HTML with each kind's view,
// Nagios, the Prometheus samples).
#include "probe/registry.hpp"
#include "probe/report_loader.hpp"
#include "reports/nagios.hpp"
#include "reports/render.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready;

CALLREADY_FUZZ_TARGET(report) {
  auto load = load_report_text(fuzz::text_of(data, size), "fuzz.json");
  if (!load.report) return 0;
  RenderOptions options;
  options.view = &check_view;
  for (auto format : {ReportFormat::json, ReportFormat::text, ReportFormat::html})
    (void)render(*load.report, format, options);
  (void)render_nagios(*load.report, &check_metrics);
  // What this renders as JSON must load again.
  auto again = load_report_text(render_json(*load.report), "again.json");
  CALLREADY_FUZZ_CHECK(again.report.has_value());
  return 0;
}
