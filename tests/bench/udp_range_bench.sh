#!/usr/bin/env bash
# 1,000-port udp_range sweep against `callready respond` on loopback: wall time
# of the whole `callready scan` (goal <= 2 s), compared in the same run with
# `nmap -sU` over the same ports (root only). The site default max_pps (200)
# would take 5 s for 1,000 ports by design; on loopback this bench passes
# max_pps 5000 explicitly, and the responder --max-pps 100000 (its per-source
# default of 2000 would otherwise shed half of a single-source sweep).
set -u
: "${CALLREADY:?}" "${SOURCE_DIR:?}"
WORK="$(mktemp -d /tmp/callready-bench.XXXXXX)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free block of 1,000 UDP ports and a free TCP control port.
read -r FIRST CONTROL < <(python3 - <<'PY'
import random, socket
def free_block(n):
    for _ in range(50):
        first = random.randint(20000, 60000 - n)
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); socks.append(s)
            return first
        except OSError:
            pass
        finally:
            for s in socks: s.close()
s = socket.socket(); s.bind(("127.0.0.1", 0)); ctl = s.getsockname()[1]; s.close()
print(free_block(1000), ctl)
PY
)
LAST=$((FIRST + 999))
"$CALLREADY" respond --listen "127.0.0.1:$CONTROL" --bind 127.0.0.1 --udp-ports "$FIRST-$LAST" \
  --token bench --max-pps 100000 --log-level warn 2>"$WORK/responder.log" &
PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$CONTROL") 2>/dev/null && break; sleep 0.1; done

cat >"$WORK/p.json" <<JSON
{"name": "bench", "description": "udp_range bench", "variables": {},
 "checks": [{"id": "udp", "kind": "udp_range", "category": "media", "severity": "critical",
             "params": {"host": "127.0.0.1", "ports": "$FIRST-$LAST", "max_pps": 5000, "control_port": $CONTROL},
             "requirement": {"text": "bench", "source": "tests/bench"}}]}
JSON

runs=()
for i in 1 2 3; do
  t0=$(date +%s.%N)
  "$CALLREADY" scan --profile "$WORK/p.json" --token bench -o "$WORK/r$i.json" >/dev/null 2>&1
  t1=$(date +%s.%N)
  runs+=("$(awk "BEGIN{print $t1 - $t0}")")
  python3 -c "
import json,sys
d=json.load(open('$WORK/r$i.json'))['checks'][0]['details']
assert d['open']==['$FIRST-$LAST'] and d['blocked']==[] and d['ports_tested']==1000, d
" || { echo "FAIL: run $i did not find every port open"; exit 1; }
done
best=$(printf '%s\n' "${runs[@]}" | sort -n | head -1)
echo "callready udp_range, 1000 ports, loopback, max_pps 5000: runs ${runs[*]} s, best $best s"

status=0
if awk "BEGIN{exit !($best <= 2.0)}"; then echo "ok: best sweep <= 2 s"; else echo "FAIL: best sweep $best s > 2 s"; status=1; fi

if [ "$(id -u)" -eq 0 ] && command -v nmap >/dev/null; then
  t0=$(date +%s.%N)
  timeout 600 nmap -sU -T4 -n -Pn -p "$FIRST-$LAST" 127.0.0.1 -oG "$WORK/nmap.txt" >/dev/null 2>&1
  t1=$(date +%s.%N)
  nmap_s=$(awk "BEGIN{print $t1 - $t0}")
  states=$(grep -o '[0-9]*/[a-z|]*/udp' "$WORK/nmap.txt" | cut -d/ -f2 | sort | uniq -c | tr '\n' ' ')
  # nmap lists the states it did not collapse; "open|filtered" is all it can say of a silent port.
  ignored=$(grep -o 'Ignored State: [a-z|]* ([0-9]*)' "$WORK/nmap.txt")
  printf 'nmap -sU -T4, same 1000 ports: %.2f s (%s%s)\n' "$nmap_s" "$states" "$ignored"
  printf 'ratio nmap/callready: %.1fx\n' "$(awk "BEGIN{print $nmap_s / $best}")"
  echo "note: the responder answers only authenticated probes, so without a payload nmap cannot tell open from filtered"
else
  echo "nmap comparison skipped (needs root and nmap)"
fi
exit $status
