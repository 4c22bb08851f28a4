#!/usr/bin/env bash
# The exporter under a real Prometheus server (Debian's `prometheus`) on
# loopback: Prometheus scrapes /probe through the shipped relabelling (the
# blackbox multi-target pattern, file_sd), and its HTTP API then returns
# probe_success and a per-check series. Also: promtool check config / rules
# on the shipped monitoring/ files. Readiness by /-/ready and by querying the
# API, never by sleeping.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
for p in dnsmasq python3 curl prometheus promtool; do
  command -v "$p" >/dev/null || { echo "SKIP: $p missing (scripts/install-deps.sh)"; exit 77; }
done
. "$here/exporter_lib.sh"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

check "promtool check config on monitoring/prometheus.yml" 'promtool check config "$SOURCE_DIR/monitoring/prometheus.yml" >/dev/null'
check "promtool check rules on monitoring/callready-alerts.yml" 'promtool check rules "$SOURCE_DIR/monitoring/callready-alerts.yml" >/dev/null'

exp_dnsmasq || exit 1
exp_tcp_listener || exit 1
exp_module "$EXP_DIR/mods"
exp_start --modules "$EXP_DIR/mods" --dns-server "127.0.0.1:$DNS_PORT" || exit 1
exporter_addr=${EXP_URL#http://}

# The shipped config with a fast interval, and one site in file_sd.
prom_dir="$EXP_DIR/prom"
mkdir -p "$prom_dir/targets" "$prom_dir/exporters" "$prom_dir/data"
sed -e 's/scrape_interval: 5m/scrape_interval: 1s/' -e 's/scrape_timeout: 60s.*/scrape_timeout: 1s/' \
  -e 's/refresh_interval: 5m/refresh_interval: 1s/' -e 's/scrape_interval: 1m/scrape_interval: 1s/' \
  "$SOURCE_DIR/monitoring/prometheus.yml" >"$prom_dir/prometheus.yml"
cp "$SOURCE_DIR/monitoring/callready-alerts.yml" "$prom_dir/"
cat >"$prom_dir/targets/sites.yml" <<YML
- targets: ["sbc.site.test"]
  labels: {module: site-basic, exporter: "$exporter_addr", site: test-site}
YML
echo "- targets: [\"$exporter_addr\"]" >"$prom_dir/exporters/self.yml"
check "promtool accepts the test's config" 'promtool check config "$prom_dir/prometheus.yml" >/dev/null'
prom_port=$(free_tcp_port)
prometheus --config.file="$prom_dir/prometheus.yml" --storage.tsdb.path="$prom_dir/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$EXP_DIR/prom.log" 2>&1 &
prom_pid=$!
EXP_PIDS+=("$prom_pid")
api="http://127.0.0.1:$prom_port"
WAIT_PID=$prom_pid wait_until 30 curl -sf "$api/-/ready" -o /dev/null || { echo "FAIL: Prometheus not ready"; cat "$EXP_DIR/prom.log"; exit 1; }

# query EXPR: prints the first result's value, empty when none yet.
query() {
  curl -s --get --data-urlencode "query=$1" "$api/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
has_value() { [ "$(query "$1")" = "$2" ]; }
check "Prometheus scraped /probe: probe_success 1 for the site" 'wait_until 30 has_value "probe_success{job=\"callready\",instance=\"sbc.site.test\",site=\"test-site\"}" 1'
check "a per-check series: tcp-sbc passed" 'has_value "callready_check_status{job=\"callready\",check=\"tcp-sbc\",status=\"pass\"}" 1'
check "the module and target came through relabelling (no module/exporter labels left)" '[ -n "$(query "callready_score{instance=\"sbc.site.test\",module=\"\",exporter=\"\"}")" ]'
check "the exporter's own metrics are scraped too" 'wait_until 30 has_value "up{job=\"callready-exporter\"}" 1'
check "the alert rules loaded" 'curl -s "$api/api/v1/rules" | grep -q CallreadySiteNotReady'

# The Grafana dashboard: every panel's query, with the $instance variable
# set to all, is valid PromQL for this Prometheus and reads series the
# exporter writes (Sites ready counts the one site).
dashboard_queries() {
  python3 - "$SOURCE_DIR/monitoring/grafana-dashboard.json" "$api" <<'PY'
import json, sys, urllib.parse, urllib.request
dash, api = json.load(open(sys.argv[1])), sys.argv[2]
exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
assert exprs, "no panel queries"
for title, expr in exprs:
    q = expr.replace("$instance", ".*")
    r = json.load(urllib.request.urlopen(api + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=10))
    assert r["status"] == "success", (title, r)
    if title == "Sites ready":
        assert float(r["data"]["result"][0]["value"][1]) == 1, (title, r["data"])
print(len(exprs))
PY
}
queries=$(dashboard_queries 2>&1)
queries_rc=$?
check "every Grafana panel query runs in Prometheus ($queries)" '[ $queries_rc = 0 ]'
# That every metric name in the rules and the dashboard is one callready
# writes: tests/unit/prometheus_monitoring_files_test.cpp.
[ $fail = 0 ] || { cat "$EXP_DIR/prom.log" "$EXP_DIR/exporter.log"; }
[ $fail = 0 ] && echo "exporter_prometheus: 1 passed, 0 failed" || echo "exporter_prometheus: 0 passed, 1 failed"
exit $fail
