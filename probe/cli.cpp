// The command line (CLI11 lives in this one file: it is slow to compile).
// It parses, picks a format and a command; it never formats a report itself.
#include "probe/cli.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "probe/engine.hpp"
#include "probe/exporter/exporter.hpp"
#include "probe/input_limits.hpp"
#include "probe/net/host_port.hpp"
#include "probe/profile.hpp"
#include "probe/progress.hpp"
#include "probe/registry.hpp"
#include "probe/report_loader.hpp"
#include "probe/respond/responder.hpp"
#include "probe/scan.hpp"
#include "probe/scoring.hpp"
#include "reports/nagios.hpp"
#include "reports/render.hpp"

namespace callready {

namespace {

constexpr int kExitUnknown = 3;

int usage_error(const std::string& message) {
  fmt::print(stderr, "callready: {}\n", escape_for_message(message, 4096));
  return kExitUnknown;
}

int print_errors(const std::vector<std::string>& errors) {
  // Input bytes may have reached a message: nothing raw goes to the terminal.
  for (const auto& e : errors) fmt::print(stderr, "callready: {}\n", escape_for_message(e, 4096));
  return kExitUnknown;
}

// The HTML report draws each check with its kind's view.
RenderOptions render_options() {
  RenderOptions o;
  o.view = &check_view;
  return o;
}

// CLI::Range lets NaN through (every comparison with it is false).
CLI::Validator finite_range(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double v = NAN;
        try {
          v = std::stod(text);
        } catch (const std::exception&) {
        }
        if (!(v >= min && v <= max)) return fmt::format("expected a number {}-{}, got {}", min, max, text);
        return {};
      },
      fmt::format("NUMBER in [{} - {}]", min, max));
}

bool is_ip_address(const std::string& text) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(text, ec);
  return !ec;
}

// The responder's addresses, checked before any service binds.
std::string respond_usage_problem(const respond::ResponderOptions& o) {
  auto listen = net::parse_host_port(o.listen);
  if (!listen || !listen->port || !is_ip_address(listen->host))
    return fmt::format("--listen {}: expected IP:PORT (port 1-65535)", o.listen);
  if (!is_ip_address(o.bind_address)) return fmt::format("--bind {}: expected an IP address", o.bind_address);
  if (!o.alt_address.empty() && !is_ip_address(o.alt_address))
    return fmt::format("--alt-address {}: expected an IP address", o.alt_address);
  return {};
}

bool color_wanted(std::FILE* f) {
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(fileno(f)) && !(no_color && *no_color);
}

struct ScanArgs {
  std::string profile = "webex-calling";
  std::vector<std::string> sets;
  std::string dns_server;
  std::string responder;
  std::string token;
  std::vector<std::string> only, skip;
  std::optional<double> timeout_s;  // unset: default_overall_timeout(plan)
  int concurrency = 32;
  std::vector<std::string> outputs;
  std::string format;
  bool quiet = false;
  bool verbose = false;
};

// Profile + --set + --only/--skip -> plan, or the errors found.
struct Planned {
  std::optional<Profile> profile;
  std::optional<Plan> plan;
  std::vector<std::string> errors;
};

Planned plan_from(const std::string& profile_name, const std::vector<std::string>& sets,
                  const std::vector<std::string>& only, const std::vector<std::string>& skip,
                  const std::string& responder = {}) {
  Planned out;
  PlanOptions po;
  for (const auto& s : sets) {
    auto kv = parse_set(s);
    if (!kv) {
      out.errors.push_back(
          fmt::format("--set {}: expected KEY=VALUE (KEY: letters, digits, _; at most 128 "
                      "characters; VALUE at most 4096 bytes)",
                      escape_for_message(s)));
      continue;
    }
    po.sets[kv->first] = kv->second;
  }
  auto non_empty = [](std::vector<std::string> v) {
    std::erase(v, std::string());
    return v;
  };
  po.only = non_empty(only);
  po.responder = responder;
  po.skip = non_empty(skip);
  if (!out.errors.empty()) return out;
  auto loaded = load_profile(profile_name);
  if (!loaded.profile) {
    out.errors = loaded.errors;
    return out;
  }
  auto built = build_plan(*loaded.profile, po);
  out.profile = std::move(loaded.profile);
  out.plan = std::move(built.plan);
  out.errors = std::move(built.errors);
  return out;
}

int run_scan(const ScanArgs& a) {
  EngineOptions eo;
  if (!a.dns_server.empty()) {
    eo.dns_server = net::parse_dns_server(a.dns_server);
    if (!eo.dns_server) return usage_error(fmt::format("--dns-server {}: expected IP or IP:PORT", a.dns_server));
  }
  for (const auto& o : a.outputs)
    if (!format_for_path(o)) return usage_error(fmt::format("-o {}: the extension must be .json, .html or .txt", o));
  if (a.timeout_s && !(*a.timeout_s > 0 && *a.timeout_s <= 3600))  // !(...) also refuses NaN
    return usage_error("--timeout: expected 0 < SECONDS <= 3600");
  if (a.concurrency < 1 || a.concurrency > 4096) return usage_error("--concurrency: expected 1-4096");
  std::string responder_host;
  if (!a.responder.empty()) {
    auto hp = net::parse_host_port(a.responder);
    if (!hp) return usage_error(fmt::format("--responder {}: expected HOST[:PORT]", a.responder));
    responder_host = hp->host;
  }
  auto planned = plan_from(a.profile, a.sets, a.only, a.skip, responder_host);
  if (!planned.errors.empty()) return print_errors(planned.errors);

  eo.overall_timeout =
      a.timeout_s ? Millis(static_cast<long long>(*a.timeout_s * 1000)) : default_overall_timeout(*planned.plan);
  eo.concurrency = a.concurrency;
  if (!a.responder.empty()) eo.settings.responder = a.responder;
  eo.settings.token = a.token;
  if (a.verbose) eo.log = [](const std::string& line) { fmt::print(stderr, "debug: {}\n", line); };

  std::optional<ProgressLine> progress;
  if (!a.quiet && isatty(fileno(stderr))) progress.emplace(planned.plan->checks.size(), stderr);
  auto started = std::chrono::system_clock::now();
  auto run = run_plan(*planned.plan, eo, progress ? &*progress : nullptr);
  auto finished = std::chrono::system_clock::now();
  if (progress) progress->clear();
  auto report = assemble_report(*planned.plan, std::move(run), started, finished);

  int status = exit_code_for(report.verdict);
  for (const auto& o : a.outputs) {
    auto err = write_file_atomically(o, render(report, *format_for_path(o), render_options()));
    if (!err.empty()) {
      fmt::print(stderr, "callready: {}\n", err);
      status = kExitUnknown;
    }
  }
  if (a.format == "nagios") {
    fmt::print("{}", render_nagios(report, &check_metrics));
    return status;
  }
  if (a.format == "json")
    fmt::print("{}", render_json(report));
  else if (!a.quiet || a.format == "text")
    fmt::print("{}", render_text(report, {color_wanted(stdout)}));
  return status;
}

int run_profiles_list() {
  for (const auto& p : list_builtin_profiles()) fmt::print("{:<18} {}\n", p.name, p.description);
  return 0;
}

int run_profiles_show(const std::string& name, const std::vector<std::string>& sets) {
  auto planned = plan_from(name, sets, {}, {});
  if (!planned.errors.empty()) return print_errors(planned.errors);
  fmt::print("{}\n", plan_to_json(*planned.plan, *planned.profile).dump(2));
  return 0;
}

int run_report(const std::string& in, const std::vector<std::string>& outputs) {
  auto loaded = load_report_file(in);  // the schema's rules: anything else exits 3 with the JSON path
  if (!loaded.report) return print_errors(loaded.errors);
  const Report& report = *loaded.report;
  if (outputs.empty()) {
    fmt::print("{}", render_text(report, {color_wanted(stdout)}));
    return 0;
  }
  for (const auto& o : outputs) {
    auto fmt_ = format_for_path(o);
    if (!fmt_) return usage_error(fmt::format("-o {}: the extension must be .json, .html or .txt", o));
    auto err = write_file_atomically(o, render(report, *fmt_, render_options()));
    if (!err.empty()) return usage_error(err);
  }
  return 0;
}

// --token-file: the secret stays off the command line (any user can read
// argv in ps). The file's first line is the token; a line end is not part of it.
std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream f(path);
  std::string token;
  if (!f || !std::getline(f, token)) return std::nullopt;
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) return std::nullopt;
  return token;
}

int run_respond(respond::ResponderOptions opts, const std::map<std::string, std::string>& port_flags) {
  for (const auto& [service, text] : port_flags) {
    if (text.empty()) continue;
    try {
      opts.ports[service] = net::parse_port_ranges(text);
    } catch (const std::invalid_argument& e) {
      return usage_error(e.what());
    }
  }
  return respond::run_responder(opts, service_registry());
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"callready: will calls work from here, and if not, what exactly must change?", "callready"};
  app.set_version_flag("--version", std::string("callready ") + CALLREADY_VERSION);
  app.require_subcommand(1);

  ScanArgs sa;
  auto* scan = app.add_subcommand("scan", "Run a profile's checks concurrently, score them, write reports");
  scan->add_option("--profile", sa.profile, "Built-in profile name or JSON profile file")->default_str("webex-calling");
  scan->add_option("--set", sa.sets, "Fill a profile variable, KEY=VALUE (repeatable)");
  scan->add_option("--dns-server", sa.dns_server, "Resolve through this server, IP[:PORT]");
  scan->add_option("--responder", sa.responder, "The responder's control port, HOST[:PORT]");
  auto* scan_token = scan->add_option("--token", sa.token, "Shared secret the responder demands");
  std::string scan_token_file;
  scan->add_option("--token-file", scan_token_file, "Read the shared secret from this file's first line")
      ->excludes(scan_token);
  scan->add_option("--only", sa.only, "Run only these checks (ids or kinds, comma-separated)")->delimiter(',');
  scan->add_option("--skip", sa.skip, "Skip these checks (ids or kinds, comma-separated)")->delimiter(',');
  scan->add_option("--timeout", sa.timeout_s, "Overall deadline in seconds")
      ->default_str("60, or the longest check's timeout + 5 when longer");
  scan->add_option("--concurrency", sa.concurrency, "Checks running at once")->default_str("32");
  scan->add_option("-o,--output", sa.outputs, "Write a report; format from the extension (.json .html .txt)");
  scan->add_option("--format", sa.format, "What goes to stdout")->check(CLI::IsMember({"json", "text", "nagios"}));
  scan->add_flag("-q,--quiet", sa.quiet, "No progress line and no text summary");
  scan->add_flag("-v,--verbose", sa.verbose, "Debug log on stderr");

  respond::ResponderOptions ro;
  std::map<std::string, std::string> port_flags;  // service -> its port list as written
  auto* resp = app.add_subcommand("respond", "Run the far end that cooperative checks talk to");
  resp->add_option("--listen", ro.listen, "Control TCP address:port")->default_str("0.0.0.0:7447");
  resp->add_option("--bind", ro.bind_address, "Address the served ports bind to")->default_str("0.0.0.0");
  std::set<std::string> switch_flags;  // services given by a switch (no ports)
  for (const auto& service : service_registry()) {
    if (!service.takes_ports)
      resp->add_flag_callback(
          service.flag, [&switch_flags, name = service.name] { switch_flags.insert(name); }, service.help);
    else
      resp->add_option(service.flag, port_flags[service.name], service.help);
    for (const auto& option : service.options) resp->add_option(option.flag, ro.settings[option.flag], option.help);
  }
  resp->add_option("--alt-address", ro.alt_address, "Second IP for RFC 5780 NAT discovery");
  auto* resp_token = resp->add_option("--token", ro.token, "Shared secret probes must carry");
  std::string resp_token_file;
  resp->add_option("--token-file", resp_token_file, "Read the shared secret from this file's first line")
      ->excludes(resp_token);
  resp->add_option("--max-pps", ro.max_pps, "Packets per second per source")
      ->default_str("2000")
      ->check(CLI::Range(1, 1000000));
  const std::map<std::string, respond::LogLevel> levels = {{"error", respond::LogLevel::error},
                                                           {"warn", respond::LogLevel::warn},
                                                           {"info", respond::LogLevel::info},
                                                           {"debug", respond::LogLevel::debug}};
  resp->add_option("--log-level", ro.log_level, "error|warn|info|debug")
      ->transform(CLI::CheckedTransformer(levels, CLI::ignore_case));

  auto* profiles = app.add_subcommand("profiles", "List the built-in profiles, or show one as JSON");
  profiles->require_subcommand(0, 1);
  std::string show_name;
  std::vector<std::string> show_sets;
  auto* show = profiles->add_subcommand("show", "Print a profile exactly as it will run");
  show->add_option("name", show_name, "Built-in profile name or JSON file")->required();
  show->add_option("--set", show_sets, "Fill a profile variable, KEY=VALUE");

  std::string report_in;
  std::vector<std::string> report_out;
  auto* report = app.add_subcommand("report", "Re-render a saved JSON report");
  report->add_option("input", report_in, "A JSON report written by scan")->required();
  report->add_option("-o,--output", report_out, "Output file (.html .json .txt); stdout text when absent");

  exporter::ExporterOptions xo;
  std::string xo_dns;
  auto* exp =
      app.add_subcommand("exporter", "Serve Prometheus scrapes: /probe runs a module, /metrics the exporter's own");
  exp->add_option("--listen", xo.listen, "Address to serve on, IP[:PORT]")->default_str("127.0.0.1:9947");
  exp->add_option("--modules", xo.modules_dir, "Directory of module (profile) files; built-ins are always there");
  exp->add_option("--max-concurrent-probes", xo.max_concurrent_probes, "Probes at once; more get 503")
      ->default_str("64")
      ->check(CLI::Range(1, 1024));
  exp->add_option("--timeout-offset", xo.timeout_offset_s, "Seconds kept from the scrape timeout")
      ->default_str("0.5")
      ->check(finite_range(0, 60));
  exp->add_option("--default-timeout", xo.default_timeout_s, "A probe's budget when the scrape gives none")
      ->default_str("10")
      ->check(finite_range(0.2, 3600.0));
  exp->add_option("--max-timeout", xo.max_timeout_s, "Never let a probe run longer")
      ->default_str("120")
      ->check(finite_range(0.2, 3600.0));
  exp->add_option("--read-timeout", xo.read_timeout_s, "A request must arrive within (else 408)")
      ->default_str("10")
      ->check(finite_range(0.1, 600.0));
  exp->add_option("--basic-auth-file", xo.basic_auth_file, "Require HTTP basic auth: a file of user:password lines");
  exp->add_option("--tls-cert", xo.tls_cert_file, "Serve HTTPS with this certificate chain (PEM)");
  exp->add_option("--tls-key", xo.tls_key_file, "The private key of --tls-cert (PEM)");
  exp->add_option("--dns-server", xo_dns, "Probes resolve through this server, IP[:PORT]");
  exp->add_option("--token", xo.probe.token, "Shared secret the responder demands");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUnknown;
  }
  for (auto [file, token] : {std::pair{&scan_token_file, &sa.token}, std::pair{&resp_token_file, &ro.token}}) {
    if (file->empty()) continue;
    auto read = read_token_file(*file);
    if (!read) return usage_error(fmt::format("--token-file {}: cannot read a token from its first line", *file));
    *token = *read;
  }
  if (scan->parsed()) return run_scan(sa);
  if (exp->parsed()) {
    if (!xo_dns.empty() && !(xo.probe.dns_server = net::parse_dns_server(xo_dns)))
      return usage_error(fmt::format("--dns-server {}: expected IP or IP:PORT", xo_dns));
    return exporter::run_exporter(xo);
  }
  if (resp->parsed()) {
    if (auto problem = respond_usage_problem(ro); !problem.empty()) return usage_error(problem);
    for (const auto& name : switch_flags) ro.ports[name];  // present with no ports: runs
    return run_respond(ro, port_flags);
  }
  if (show->parsed()) return run_profiles_show(show_name, show_sets);
  if (profiles->parsed()) return run_profiles_list();
  if (report->parsed()) return run_report(report_in, report_out);
  return kExitUnknown;
}

}  // namespace callready
