#pragma once
// The Nagios / Icinga plugin output (monitoring-plugins developer
// guidelines): one status line with perfdata, then one line per check; the
// exit status 0/1/2/3 is the scan's (OK, WARNING, CRITICAL, UNKNOWN).
#include <string>

#include "probe/model.hpp"
#include "reports/prometheus.hpp"

namespace callready {

// "CALLREADY CRITICAL - 2 of 14 checks failed: a, b | 'score'=54;;;0;100 ...\n" + a line per check.
std::string render_nagios(const Report& report, const MetricsOf& metrics);

// OK, WARNING, CRITICAL or UNKNOWN for a verdict (the plugin's exit status names).
const char* nagios_state(Verdict verdict);

// One perfdata item: 'label'=value[UOM];warn;crit;min;max, "U" for NaN.
std::string nagios_perfdata(const std::string& label, double value, const std::string& unit, const std::string& min,
                            const std::string& max);

}  // namespace callready
