// The Nagios / Icinga plugin output: the first line's exact format, the
// perfdata grammar of the monitoring-plugins guidelines, one line per check.
#include <doctest/doctest.h>

#include <regex>

#include "reports/nagios.hpp"

using namespace callready;

namespace {

CheckRecord record(std::string id, Status status, std::string summary = "s") {
  CheckRecord c;
  c.id = std::move(id);
  c.kind = "tcp";
  c.target = "198.51.100.20:8934";
  c.status = status;
  c.summary = std::move(summary);
  return c;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// 'label'=value[UOM];[warn];[crit];[min];[max] (trailing empty fields may be left out)
// The value is of the class [-0-9.] (no exponent), or U.
const std::regex kPerfItem(R"re('([^'=]|'')+'=(U|-?[0-9.]+(s|ms|us|%|B|KB|MB|TB|c)?)(;[^; ]*){0,4})re");

}  // namespace

TEST_CASE("the status line names the state, the failed checks and the score") {
  Report r;
  r.verdict = Verdict::not_ready;
  r.score = 54;
  r.checks = {record("sip-alg-udp", Status::fail), record("dns", Status::pass),
              record("udp-range-media", Status::error)};
  auto text = render_nagios(r, {});
  CHECK(first_line(text) ==
        "CALLREADY CRITICAL - 2 of 3 checks failed: sip-alg-udp, udp-range-media | 'score'=54;;;0;100");
}

TEST_CASE("states follow the verdict: OK, WARNING, CRITICAL, UNKNOWN") {
  CHECK(std::string(nagios_state(Verdict::ready)) == "OK");
  CHECK(std::string(nagios_state(Verdict::degraded)) == "WARNING");
  CHECK(std::string(nagios_state(Verdict::not_ready)) == "CRITICAL");
  CHECK(std::string(nagios_state(Verdict::unknown)) == "UNKNOWN");
  Report r;
  r.verdict = Verdict::degraded;
  r.score = 90;
  r.checks = {record("a", Status::pass), record("pmtu", Status::warn)};
  CHECK(first_line(render_nagios(r, {})) == "CALLREADY WARNING - 1 of 2 checks warn: pmtu | 'score'=90;;;0;100");
  r.verdict = Verdict::ready;
  r.checks = {record("a", Status::pass)};
  CHECK(first_line(render_nagios(r, {})).starts_with("CALLREADY OK - all 1 checks passed | "));
}

TEST_CASE("perfdata: base units, U when not measured, labels quoted, every item in the guidelines' grammar") {
  CHECK(nagios_perfdata("tcp_8934_rtt", 0.023, "s", "0", "") == "'tcp_8934_rtt'=0.023s;;;0");
  CHECK(nagios_perfdata("x", metrics::not_measured, "s", "0", "") == "'x'=U;;;0");
  CHECK(nagios_perfdata("it's", 1, "", "0", "1") == "'it''s'=1;;;0;1");
  CHECK(nagios_perfdata("a=b", 1500, "B", "0", "") == "'ab'=1500B;;;0");
  // Values in the guidelines' class [-0-9.]: never an exponent, the same digits.
  CHECK(nagios_perfdata("dns", 2e-05, "s", "0", "") == "'dns'=0.00002s;;;0");
  CHECK(nagios_perfdata("dns", 1.2345e-05, "s", "0", "") == "'dns'=0.000012345s;;;0");
  CHECK(nagios_perfdata("offset", -3.5e-07, "s", "", "") == "'offset'=-0.00000035s");
  CHECK(nagios_perfdata("big", 1.5e21, "", "0", "") == "'big'=1500000000000000000000;;;0");
  CHECK(nagios_perfdata("small", 0.0001, "s", "0", "") == "'small'=0.0001s;;;0");
  Report r;
  r.verdict = Verdict::not_ready;
  r.checks = {record("tcp-8934", Status::pass)};
  MetricsOf metrics = [](const CheckRecord&) {
    return metrics::Samples{{"callready_tcp_connect_seconds", "h", "s", {}, 0.023},
                            {"callready_dns_lookup_seconds", "h", "s", {}, 4.2e-05},
                            {"callready_tls_version_supported", "h", "", {{"version", "tls1.3"}}, 1},
                            {"callready_path_mtu_bytes", "h", "B", {}, metrics::not_measured}};
  };
  auto line = first_line(render_nagios(r, metrics));
  auto perf = line.substr(line.find(" | ") + 3);
  CHECK(perf ==
        "'score'=0;;;0;100 'tcp-8934_tcp_connect'=0.023s;;;0 'tcp-8934_dns_lookup'=0.000042s;;;0 "
        "'tcp-8934_tls_version_supported_tls1.3'=1;;;0 "
        "'tcp-8934_path_mtu'=U;;;0");
  std::istringstream items(perf);
  for (std::string item; items >> item;) CHECK_MESSAGE(std::regex_match(item, kPerfItem), item);
}

TEST_CASE("one line per check after the status line, never a second perfdata separator") {
  Report r;
  r.verdict = Verdict::not_ready;
  r.checks = {record("a", Status::fail, "rewritten | twice\nand more"), record("b", Status::skipped)};
  auto text = render_nagios(r, {});
  CHECK(text.substr(text.find('\n') + 1) ==
        "CRITICAL a (tcp, 198.51.100.20:8934): rewritten / twice and more\nSKIPPED b (tcp, 198.51.100.20:8934): s\n");
}
