#!/usr/bin/env bash
# The exporter under load on loopback (a real dnsmasq, a TCP listener, a
# DNS+TCP module): /metrics latency (goal < 10 ms), 50 concurrent /probe
# requests all answered 200 with probe_success 1, and RSS flat over N probes
# (quick: 200, full: 1,000; growth goal < 5 MB after the first 50).
# The peer measured in the same run: the same DNS+TCP work done by
# `callready scan` as a fresh process per probe (what a cron-driven setup pays).
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
for p in dnsmasq python3 curl; do
  command -v "$p" >/dev/null || { echo "SKIP: exporter_bench: $p missing (scripts/install-deps.sh)"; exit 77; }
done
. "$SOURCE_DIR/tests/cli/exporter_lib.sh"
exp_dnsmasq || exit 1
exp_tcp_listener || exit 1
exp_module "$EXP_DIR/mods"
exp_start --modules "$EXP_DIR/mods" --dns-server "127.0.0.1:$DNS_PORT" || exit 1
if bench_quick; then PROBES=200; else PROBES=1000; fi
fail=0

python3 - "$EXP_URL" "$PROBES" "$EXP_PID" >"$EXP_DIR/result.txt" <<'PY'
import concurrent.futures, statistics, sys, time, urllib.request
url, probes, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
probe = url + "/probe?module=site-basic&target=sbc.site.test"
def get(u):
    start = time.perf_counter()
    with urllib.request.urlopen(u, timeout=15) as r:
        body = r.read().decode()
        return r.status, body, time.perf_counter() - start
def rss_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])
lat = sorted(get(url + "/metrics")[2] * 1000 for _ in range(200))
print(f"metrics_p50_ms {statistics.median(lat):.3f}")
print(f"metrics_p99_ms {lat[int(len(lat) * 0.99) - 1]:.3f}")
with concurrent.futures.ThreadPoolExecutor(50) as pool:
    start = time.perf_counter()
    results = list(pool.map(lambda _: get(probe), range(50)))
    wall = time.perf_counter() - start
ok = sum(1 for s, b, _ in results if s == 200 and "\nprobe_success 1\n" in b)
print(f"concurrent_ok {ok}")
print(f"concurrent_wall_s {wall:.3f}")
rss = []
for i in range(probes):
    s, b, _ = get(probe)
    if s != 200 or "\nprobe_success 1\n" not in b: print(f"probe_failed {i}"); break
    if i == 49: rss.append(rss_kb())
rss.append(rss_kb())
print(f"rss_after_50_kb {rss[0]}")
print(f"rss_after_all_kb {rss[-1]}")
start = time.perf_counter()
for _ in range(20): get(probe)
print(f"probe_serial_s {(time.perf_counter() - start) / 20:.4f}")
PY
cat "$EXP_DIR/result.txt"
val() { awk -v k="$1" '$1 == k {print $2}' "$EXP_DIR/result.txt"; }
[ "$(val concurrent_ok)" = 50 ] || { echo "FAIL: $(val concurrent_ok) of 50 concurrent probes succeeded"; fail=1; }
grep -q probe_failed "$EXP_DIR/result.txt" && { echo "FAIL: a probe failed"; fail=1; }
growth=$(( $(val rss_after_all_kb) - $(val rss_after_50_kb) ))
echo "rss growth over $PROBES probes: ${growth} kB"
if ! bench_quick; then
  awk "BEGIN{exit !($(val metrics_p99_ms) < 10)}" || { echo "FAIL: /metrics p99 $(val metrics_p99_ms) ms (goal < 10 ms)"; fail=1; }
  [ "$growth" -lt 5120 ] || { echo "FAIL: RSS grew ${growth} kB over $PROBES probes (goal < 5 MB)"; fail=1; }
fi
# The peer: the same module as a fresh `callready scan` per probe.
start=$(date +%s%N)
for _ in $(seq 20); do
  "$CALLREADY" scan --profile "$EXP_DIR/mods/site-basic.json" --set target=sbc.site.test \
    --dns-server "127.0.0.1:$DNS_PORT" -q --timeout 10 || { echo "FAIL: the peer scan failed"; fail=1; break; }
done
peer=$(awk "BEGIN{print ($(date +%s%N) - $start) / 20 / 1e9}")
bench_row "exporter /probe DNS+TCP (per probe)" "$(val probe_serial_s)" "callready scan process" "$peer"
bench_row "exporter /metrics p99" "$(awk "BEGIN{print $(val metrics_p99_ms) / 1000}")" - -
[ $fail = 0 ] && echo "exporter_bench: 1 passed, 0 failed" || echo "exporter_bench: 0 passed, 1 failed"
exit $fail
