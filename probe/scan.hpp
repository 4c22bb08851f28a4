#pragma once
// From a plan's run to the scored report: timestamps, site facts, scoring.
#include <chrono>

#include "probe/engine.hpp"
#include "probe/model.hpp"
#include "probe/profile.hpp"

namespace callready {

std::string rfc3339(std::chrono::system_clock::time_point t);

// Hostname and this machine's non-loopback addresses.
ReportSite local_site();

Report assemble_report(const Plan& plan, EngineRun run, std::chrono::system_clock::time_point started,
                       std::chrono::system_clock::time_point finished);

}  // namespace callready
