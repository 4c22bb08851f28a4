#pragma once
// `callready exporter`: a Prometheus exporter for voice readiness in
// blackbox_exporter's shape. GET /probe?module=&target=[&set.<var>=][&debug=true]
// runs a module (a profile) under the scrape's deadline and answers the
// text exposition; /metrics serves the exporter's own and process metrics;
// POST /-/reload and SIGHUP reload the modules (validated first: a bad file
// keeps the old set, and the answer says why).
#include <optional>
#include <string>

#include "probe/exporter/probe_run.hpp"
#include "probe/exporter/request.hpp"

namespace callready::exporter {

struct ExporterOptions {
  std::string listen = "127.0.0.1:9947";
  std::string modules_dir;  // empty: built-in profiles only
  int max_concurrent_probes = 64;
  double timeout_offset_s = 0.5;  // subtracted from X-Prometheus-Scrape-Timeout-Seconds (blackbox's --timeout-offset)
  double default_timeout_s = 10;  // the scan's budget when the scrape does not say
  double max_timeout_s = 120;     // never wait longer than this, whatever a request says
  double read_timeout_s = 10;     // a request's head must arrive within this (slow clients get 408)
  RequestLimits limits;
  std::size_t max_header_bytes = 8192;
  std::string basic_auth_file;  // "user:password" lines; empty: no authentication
  std::string tls_cert_file, tls_key_file;
  ProbeSettings probe;
  std::size_t max_background_targets = 256;
  std::size_t max_background_runs = 4;
};

// Runs until SIGINT/SIGTERM; returns the exit status (3 when it cannot start).
int run_exporter(const ExporterOptions& options);

}  // namespace callready::exporter
