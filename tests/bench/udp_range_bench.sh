#!/usr/bin/env bash
# udp_range sweep against `callready respond` on loopback: wall time of the
# whole `callready scan`, compared in the same run with `nmap -sU` over the
# same ports (root only). The site default max_pps (200) would take 5 s for
# 1,000 ports by design; on loopback this bench passes max_pps 5000
# explicitly, and the responder --max-pps 100000 (its per-source default of
# 2000 would otherwise shed half of a single-source sweep).
# quick: 100 ports, one sweep, every port found open; no timing goal, no nmap.
# full: 1,000 ports, best of 3 sweeps <= 2 s, nmap measured.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
bench_loopback
if bench_quick; then N=100 RUNS=1; else N=1000 RUNS=3; fi
start_responder_free "$BENCH_DIR/responder.log" "$N" --token bench --max-pps 100000 --log-level warn ||
  { echo "FAIL: responder did not start"; exit 1; }
BENCH_PIDS+=("$RESPONDER_PID")
FIRST=$RESPONDER_FIRST CONTROL=$RESPONDER_CONTROL
LAST=$((FIRST + N - 1))

cat >"$BENCH_DIR/p.json" <<JSON
{"name": "bench", "description": "udp_range bench", "variables": {},
 "checks": [{"id": "udp", "kind": "udp_range", "category": "media", "severity": "critical",
             "params": {"host": "127.0.0.1", "ports": "$FIRST-$LAST", "max_pps": 5000, "control_port": $CONTROL},
             "requirement": {"text": "bench", "source": "tests/bench"}}]}
JSON

runs=()
for i in $(seq "$RUNS"); do
  t0=$(date +%s.%N)
  "$CALLREADY" scan --profile "$BENCH_DIR/p.json" --token bench -o "$BENCH_DIR/r$i.json" >/dev/null 2>&1
  t1=$(date +%s.%N)
  runs+=("$(awk "BEGIN{print $t1 - $t0}")")
  python3 -c "
import json,sys
d=json.load(open('$BENCH_DIR/r$i.json'))['checks'][0]['details']
assert d['open']==['$FIRST-$LAST'] and d['blocked']==[] and d['ports_tested']==$N, d
" || { echo "FAIL: run $i did not find every port open"; exit 1; }
done
best=$(printf '%s\n' "${runs[@]}" | sort -n | head -1)
echo "ok: callready udp_range, $N ports, loopback, max_pps 5000: every port open; runs ${runs[*]} s, best $best s"
bench_quick && exit 0

status=0
if awk "BEGIN{exit !($best <= 2.0)}"; then echo "ok: best sweep <= 2 s"; else echo "FAIL: best sweep $best s > 2 s"; status=1; fi

if [ "$(id -u)" -eq 0 ] && command -v nmap >/dev/null; then
  t0=$(date +%s.%N)
  timeout 600 nmap -sU -T4 -n -Pn -p "$FIRST-$LAST" 127.0.0.1 -oG "$BENCH_DIR/nmap.txt" >/dev/null 2>&1
  t1=$(date +%s.%N)
  nmap_s=$(awk "BEGIN{print $t1 - $t0}")
  states=$(grep -o '[0-9]*/[a-z|]*/udp' "$BENCH_DIR/nmap.txt" | cut -d/ -f2 | sort | uniq -c | tr '\n' ' ')
  # nmap lists the states it did not collapse; "open|filtered" is all it can say of a silent port.
  ignored=$(grep -o 'Ignored State: [a-z|]* ([0-9]*)' "$BENCH_DIR/nmap.txt")
  printf 'nmap -sU -T4, same %d ports: %.2f s (%s%s)\n' "$N" "$nmap_s" "$states" "$ignored"
  echo "note: the responder answers only authenticated probes, so without a payload nmap cannot tell open from filtered"
  bench_row "udp_range sweep, $N UDP ports (best of $RUNS)" "$best" "nmap -sU -T4" "$nmap_s"
else
  echo "nmap comparison skipped (needs root and nmap)"
  bench_row "udp_range sweep, $N UDP ports (best of $RUNS)" "$best" - -
fi
exit $status
