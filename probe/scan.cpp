#include "probe/scan.hpp"

#include <arpa/inet.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include "probe/root_cause.hpp"
#include "probe/scoring.hpp"

namespace callready {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms);
}

ReportSite local_site() {
  ReportSite site;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) site.hostname = host;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (auto* a = list; a; a = a->ifa_next) {
      if (!a->ifa_addr || (a->ifa_flags & IFF_LOOPBACK) || !(a->ifa_flags & IFF_UP)) continue;
      char buf[INET6_ADDRSTRLEN] = {};
      if (a->ifa_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
      else if (a->ifa_addr->sa_family == AF_INET6) {
        auto* sa6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
        if (IN6_IS_ADDR_LINKLOCAL(&sa6->sin6_addr)) continue;
        inet_ntop(AF_INET6, &sa6->sin6_addr, buf, sizeof buf);
      } else
        continue;
      site.local_addresses.emplace_back(buf);
    }
    freeifaddrs(list);
  }
  return site;
}

Report assemble_report(const Plan& plan, EngineRun run, std::chrono::system_clock::time_point started,
                       std::chrono::system_clock::time_point finished) {
  Report r;
  r.tool_version = CALLREADY_VERSION;
  r.profile.name = plan.profile_name;
  r.profile.description = plan.profile_description;
  r.profile.variables = plan.variables;
  r.site = local_site();
  r.started_at = rfc3339(started);
  r.finished_at = rfc3339(finished);
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count();
  // The public address as a far end saw it, from the first check that learned it.
  for (const auto& done : run.runs)
    if (done.outcome.public_address && r.site.public_address.empty())
      r.site.public_address = *done.outcome.public_address;
  bool interrupted = run.interrupted, deadline_reached = run.deadline_reached;
  r.checks = make_records(plan, std::move(run));
  if (interrupted) {
    r.incomplete = true;
    r.incomplete_reason = "interrupted (SIGINT/SIGTERM) before every check finished";
  } else if (deadline_reached) {
    r.incomplete = true;
    r.incomplete_reason = "the overall deadline (--timeout) ended the scan before every check finished";
  }
  score_report(r);
  r.root_causes = find_root_causes(r.checks);
  return r;
}

}  // namespace callready
