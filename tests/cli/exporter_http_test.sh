#!/usr/bin/env bash
# `callready exporter` from outside, on loopback with real peers (dnsmasq, a
# TCP listener): /probe answers, bad input gets 400/404/408 with a clear body
# while the server keeps serving others (a slowloris client included),
# /-/reload and SIGHUP validate first and keep the old modules on a bad file,
# basic auth and TLS, the concurrency limit, and promtool on the exposition.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
for p in dnsmasq python3 curl openssl promtool; do
  command -v "$p" >/dev/null || { echo "SKIP: $p missing (scripts/install-deps.sh)"; exit 77; }
done
. "$here/exporter_lib.sh"
exp_dnsmasq || exit 1
exp_tcp_listener || exit 1
mods="$EXP_DIR/mods"
exp_module "$mods"
exp_start --modules "$mods" --dns-server "127.0.0.1:$DNS_PORT" --read-timeout 1 || exit 1
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
get() { curl -s -o "$EXP_DIR/body" -w '%{http_code}' "$@"; }

code=$(get -H 'X-Prometheus-Scrape-Timeout-Seconds: 5' "$EXP_URL/probe?module=site-basic&target=sbc.site.test")
check "/probe answers 200" '[ "$code" = 200 ]'
check "probe_success 1 and a per-check series" 'grep -qx "probe_success 1" "$EXP_DIR/body" && grep -q "^callready_check_status{check=\"tcp-sbc\",kind=\"tcp\",category=\"signaling\",status=\"pass\"} 1$" "$EXP_DIR/body"'
check "an inline check has no last-run timestamp (the scrape's own time is its time)" '! grep -q "^callready_check_last_run_timestamp_seconds" "$EXP_DIR/body"'
check "promtool check metrics is clean on /probe" 'promtool check metrics <"$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=sbc.site.test&set.port=$(free_tcp_port)")
check "set.<var> fills a variable (a closed port: probe_success 0, reason tcp.refused)" '[ "$code" = 200 ] && grep -qx "probe_success 0" "$EXP_DIR/body" && grep -q "callready_check_failure_reason{check=\"tcp-sbc\",reason=\"tcp\.[a-z_]*\"} 1" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=sbc.site.test&debug=true")
check "debug=true returns the text report" '[ "$code" = 200 ] && grep -q "^Verdict: READY" "$EXP_DIR/body"'
code=$(get "$EXP_URL/metrics")
check "/metrics: own and process metrics, promtool clean" '[ "$code" = 200 ] && grep -q "^callready_exporter_probes_total{module=\"site-basic\",result=\"success\"} 2" "$EXP_DIR/body" && grep -q "^process_resident_memory_bytes " "$EXP_DIR/body" && promtool check metrics <"$EXP_DIR/body"'

# Bad input: each a status and a body that says what was wrong.
code=$(get "$EXP_URL/probe?module=nope&target=sbc.site.test")
check "unknown module: 404 naming it" '[ "$code" = 404 ] && grep -q "unknown module \"nope\"" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic")
check "missing target: 400" '[ "$code" = 400 ] && grep -q "target parameter is missing" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=sbc%3Brm")
check "a target that is not a host: 400" '[ "$code" = 400 ] && grep -q "not a host name or an IP address" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=sbc.site.test&set.nosuch=1")
check "unknown variable: 400 naming it" '[ "$code" = 400 ] && grep -q "no variable \"nosuch\"" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=$(head -c 5000 /dev/zero | tr '\0' a)")
check "oversized query: 400" '[ "$code" = 400 ] && grep -q "too long" "$EXP_DIR/body"'
code=$(get "$EXP_URL/probe?module=site-basic&target=x$(for i in $(seq 40); do printf '&set.v%d=1' "$i"; done)")
check "too many query parameters: 400" '[ "$code" = 400 ] && grep -q "too many query parameters" "$EXP_DIR/body"'
code=$(get -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$EXP_URL/metrics")
check "oversized head: 400" '[ "$code" = 400 ] && grep -q "request head larger than" "$EXP_DIR/body"'
code=$(get "$EXP_URL/")
check "/ lists each module with the variable target fills" '[ "$code" = 200 ] && grep -Eq "^  site-basic +target " "$EXP_DIR/body" && grep -Eq "^  broadworks-xsp +[a-z_]+ +built-in" "$EXP_DIR/body"'
code=$(get "$EXP_URL/nowhere")
check "unknown path: 404" '[ "$code" = 404 ]'

# Slowloris: a client that sends its head a byte at a time gets 408 after
# --read-timeout, and meanwhile other clients are answered at once.
python3 - "$EXP_URL" >"$EXP_DIR/slow.txt" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split("//")[1].split(":")
s = socket.create_connection((host, int(port)), timeout=5)
start = time.time()
try:
    for ch in b"GET /metrics HTTP/1.1\r\nHost: x\r\n":
        s.send(bytes([ch])); time.sleep(0.1)
except OSError:
    pass
data = b""
while time.time() - start < 8:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk: break
    data += chunk
print(data.split(b"\r\n")[0].decode(errors="replace"))
PY
slow=$!
code=$(get --max-time 2 "$EXP_URL/metrics")
check "others are served while a slow client dawdles" '[ "$code" = 200 ]'
wait "$slow"
check "the slow client gets 408" 'grep -q "^HTTP/1.1 408" "$EXP_DIR/slow.txt"'

# Reload: a bad file keeps the old modules and says why; a good one is taken.
echo '{"name": "broken", "checks": [{"id": "x", "kind": "nosuchkind"}]}' >"$mods/broken.json"
code=$(get -X POST "$EXP_URL/-/reload")
check "bad reload: 500 naming the file, old modules kept" '[ "$code" = 500 ] && grep -q "broken.json" "$EXP_DIR/body" && [ "$(get "$EXP_URL/probe?module=site-basic&target=sbc.site.test")" = 200 ]'
check "/metrics says the last reload failed" 'curl -s "$EXP_URL/metrics" | grep -qx "callready_exporter_config_last_reload_successful 0"'
sighup_refused() { grep -q "reload failed, keeping modules: .*broken.json" "$EXP_DIR/exporter.log"; }
kill -HUP "$EXP_PID"
check "SIGHUP with the bad file: the log names it, old modules kept" 'wait_until 5 sighup_refused && [ "$(get "$EXP_URL/probe?module=site-basic&target=sbc.site.test")" = 200 ]'
check "/metrics counts both failed reloads" 'curl -s "$EXP_URL/metrics" | grep -qx "callready_exporter_config_reloads_total{result=\"failure\"} 2"'
rm "$mods/broken.json"
sed 's/"site-basic"/"site-renamed"/' "$mods/site-basic.json" >"$mods/renamed.json"
kill -HUP "$EXP_PID"
check "SIGHUP reloads: the new module answers" 'wait_until 5 test "$(get "$EXP_URL/probe?module=site-renamed&target=sbc.site.test")" = 200'
check "GET /-/reload is refused" '[ "$(get "$EXP_URL/-/reload")" = 405 ]'

# Background schedule: a module file wrapping the profile runs tcp-sbc out of
# the scrape; the first scrape starts it (skipped, no timestamp yet), a later
# one serves its result with callready_check_last_run_timestamp_seconds.
python3 - "$mods/site-basic.json" "$mods/site-bg.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); p["name"] = "site-bg"
json.dump({"profile": p, "background": {"checks": ["tcp-sbc"], "interval_s": 600}}, open(sys.argv[2], "w"))
PY
check "reload takes the background module" '[ "$(get -X POST "$EXP_URL/-/reload")" = 200 ]'
code=$(get "$EXP_URL/probe?module=site-bg&target=sbc.site.test")
check "first scrape: the background check is not run inline" '[ "$code" = 200 ] && grep -q "^callready_check_status{check=\"tcp-sbc\",kind=\"tcp\",category=\"signaling\",status=\"skipped\"} 1" "$EXP_DIR/body" && ! grep -q "^callready_check_last_run_timestamp_seconds{check=\"tcp-sbc\"}" "$EXP_DIR/body"'
bg_done() { get "$EXP_URL/probe?module=site-bg&target=sbc.site.test" >/dev/null && grep -q "^callready_check_last_run_timestamp_seconds{check=\"tcp-sbc\"} 1[0-9]" "$EXP_DIR/body"; }
check "a later scrape serves the background result with its time" 'wait_until 10 bg_done && grep -q "status=\"pass\"} 1" "$EXP_DIR/body" && grep -q "^callready_tcp_connect_seconds{check=\"tcp-sbc\"} [0-9]" "$EXP_DIR/body"'
echo '{"profile": "loopback-demo", "background": {"checks": ["no-such-check"]}}' >"$mods/bad-bg.json"
check "a background list naming no check fails the reload" '[ "$(get -X POST "$EXP_URL/-/reload")" = 500 ] && grep -q "has no check \"no-such-check\"" "$EXP_DIR/body"'
rm "$mods/bad-bg.json" "$mods/site-bg.json"

# Basic auth and TLS together on a second exporter.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$EXP_DIR/key.pem" -out "$EXP_DIR/cert.pem" -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
echo "prom:s3cret" >"$EXP_DIR/users"
first_log="$EXP_DIR/exporter.log"
mv "$first_log" "$EXP_DIR/exporter1.log"
exp_start --modules "$mods" --dns-server "127.0.0.1:$DNS_PORT" --basic-auth-file "$EXP_DIR/users" \
  --tls-cert "$EXP_DIR/cert.pem" --tls-key "$EXP_DIR/key.pem" --max-concurrent-probes 1 || exit 1
check "TLS exporter announces https" '[[ "$EXP_URL" == https://* ]]'
check "no credentials: 401" '[ "$(get --cacert "$EXP_DIR/cert.pem" "$EXP_URL/metrics")" = 401 ]'
check "wrong password: 401" '[ "$(get --cacert "$EXP_DIR/cert.pem" -u prom:wrong "$EXP_URL/metrics")" = 401 ]'
check "right credentials over TLS: 200" '[ "$(get --cacert "$EXP_DIR/cert.pem" -u prom:s3cret "$EXP_URL/probe?module=site-basic&target=sbc.site.test")" = 200 ] && grep -qx "probe_success 1" "$EXP_DIR/body"'

# Concurrency limit 1: while one probe waits on a DNS server that never
# answers (a silent UDP socket on loopback), a second probe gets 503.
python3 - "$EXP_DIR/silent" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(30)
PY
EXP_PIDS+=($!)
wait_until 5 test -s "$EXP_DIR/silent"
mv "$EXP_DIR/exporter.log" "$EXP_DIR/exporter2.log"
exp_start --modules "$mods" --dns-server "127.0.0.1:$(cat "$EXP_DIR/silent")" --max-concurrent-probes 1 || exit 1
curl -s -o /dev/null -H 'X-Prometheus-Scrape-Timeout-Seconds: 3.5' "$EXP_URL/probe?module=site-basic&target=sbc.site.test" &
busy=$!
in_flight() { curl -s "$EXP_URL/metrics" | grep -qx "callready_exporter_probes_in_flight 1"; }
check "the first probe is in flight" 'wait_until 3 in_flight'
check "a probe over the limit: 503" '[ "$(get -H "X-Prometheus-Scrape-Timeout-Seconds: 1.5" "$EXP_URL/probe?module=site-basic&target=sbc.site.test")" = 503 ] && grep -q "max-concurrent-probes" "$EXP_DIR/body"'
wait "$busy"
check "the scrape timeout bounds the probe (3.5 s - 0.5 s offset)" 'curl -s "$EXP_URL/metrics" | grep -Eq "^callready_exporter_probe_duration_seconds_sum\{module=\"site-basic\"\} (2\.[5-9]|3\.0)"'

# The packaged unit's --modules directory may not exist yet: the built-ins serve.
mv "$EXP_DIR/exporter.log" "$EXP_DIR/exporter3.log"
exp_start --modules "$EXP_DIR/not-created-yet" || exit 1
check "a missing --modules directory: built-ins serve, the log says so" '[ "$(get "$EXP_URL/probe?module=nope&target=x")" = 404 ] && grep -q "loopback-demo" "$EXP_DIR/body" && grep -q "no such directory" "$EXP_DIR/exporter.log"'

[ $fail = 0 ] || cat "$EXP_DIR"/exporter*.log
[ $fail = 0 ] && echo "exporter_http: 1 passed, 0 failed" || echo "exporter_http: 0 passed, 1 failed"
exit $fail
