#include "probe/exporter/exporter_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

namespace callready::exporter {

namespace {

// /proc/self/stat fields after the command name, 0-based from field 3 (state).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

double open_fds() {
  double n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    --n;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

void add_process_metrics(prometheus::Exposition& out) {
  auto f = stat_fields();
  // Fields (man 5 proc), counted from `state` = 0: utime 11, stime 12, starttime 19, vsize 20, rss 21.
  if (f.size() < 22) return;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", {},
          (std::stod(f[11]) + std::stod(f[12])) / ticks);
  out.add("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", {}, std::stod(f[21]) * page);
  out.add("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", {}, std::stod(f[20]));
  out.add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", {},
          boot_time() + std::stod(f[19]) / ticks);
  out.add("process_open_fds", "Number of open file descriptors.", "gauge", {}, open_fds());
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    out.add("process_max_fds", "Maximum number of open file descriptors.", "gauge", {},
            static_cast<double>(lim.rlim_cur));
}

void ExporterMetrics::probe_finished(const std::string& module, bool success, double seconds) {
  std::lock_guard lock(mutex_);
  probes_[{module, success ? "success" : "failure"}] += 1;
  auto& d = durations_[module];
  d.first += seconds;
  d.second += 1;
}

void ExporterMetrics::request_answered(const std::string& handler, int status) {
  std::lock_guard lock(mutex_);
  requests_[{handler, std::to_string(status)}] += 1;
}

void ExporterMetrics::reload(bool ok, std::size_t modules) {
  std::lock_guard lock(mutex_);
  (ok ? reloads_ok_ : reloads_failed_) += 1;
  last_reload_ok_ = ok ? 1 : 0;
  if (ok) {
    last_reload_time_ = unix_now();
    modules_ = static_cast<double>(modules);
  }
}

void ExporterMetrics::set_in_flight(int n) {
  std::lock_guard lock(mutex_);
  in_flight_ = n;
}

void ExporterMetrics::add_to(prometheus::Exposition& out, std::size_t background_running) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, n] : probes_)
    out.add("callready_exporter_probes_total", "Probes run, by module and result (probe_success)", "counter",
            {{"module", key.first}, {"result", key.second}}, n);
  for (const auto& [module, d] : durations_) {
    out.add_summary("callready_exporter_probe_duration_seconds", "Time spent in probes, by module",
                    {{"module", module}}, d.first, d.second);
  }
  for (const auto& [key, n] : requests_)
    out.add("callready_exporter_http_requests_total", "HTTP requests answered, by handler and status code", "counter",
            {{"handler", key.first}, {"code", key.second}}, n);
  out.add("callready_exporter_probes_in_flight", "Probes running now", "gauge", {}, in_flight_);
  out.add("callready_exporter_background_runs_in_flight", "Background runs of long checks now", "gauge", {},
          static_cast<double>(background_running));
  out.add("callready_exporter_config_reloads_total", "Module reloads, by result", "counter", {{"result", "success"}},
          reloads_ok_);
  out.add("callready_exporter_config_reloads_total", "Module reloads, by result", "counter", {{"result", "failure"}},
          reloads_failed_);
  out.add("callready_exporter_config_last_reload_successful", "1 when the last reload of the modules succeeded",
          "gauge", {}, last_reload_ok_);
  out.add("callready_exporter_config_last_reload_success_timestamp_seconds",
          "When the modules were last loaded successfully (Unix time)", "gauge", {}, last_reload_time_);
  out.add("callready_exporter_modules", "Modules loaded (built-in profiles included)", "gauge", {}, modules_);
}

}  // namespace callready::exporter
