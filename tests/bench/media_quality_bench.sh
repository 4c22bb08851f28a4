#!/usr/bin/env bash
# media_quality on loopback: CPU of the client (the scan) and of the
# responder for one G.711 stream, the responder's CPU per packet against
# irtt's server for the same stream shape in the same run (irtt client -i
# 20ms -l 172), then N concurrent G.711 streams: the responder must cause no
# loss itself, and its RSS with N sessions is reported.
# quick: 2 s streams, 10 concurrent. full: 10 s streams, 100 concurrent.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
bench_loopback
if bench_quick; then D=2 N=10; else D=10 N=100; fi
HZ=$(getconf CLK_TCK)
start_responder_free "$BENCH_DIR/responder.log" 1 --max-pps 100000 || { echo "FAIL: responder did not start"; exit 1; }
RPID=$RESPONDER_PID
BENCH_PIDS+=("$RPID")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

profile() { # profile COUNT: COUNT G.711 streams of D seconds
  python3 - "$1" "$RESPONDER_FIRST" "$D" >"$BENCH_DIR/p.json" <<'PY'
import json, sys
n, port, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
checks = [{"id": f"s{i}", "kind": "media_quality", "category": "media", "severity": "critical",
           "params": {"host": "127.0.0.1", "port": port, "codec": "g711", "duration_s": d},
           "requirement": {"text": "bench", "source": "tests/bench"}} for i in range(n)]
print(json.dumps({"name": "bench-media", "description": "bench", "variables": {}, "checks": checks}))
PY
}
scan() { # scan COUNT: runs them at once; the client's CPU seconds in $BENCH_DIR/client.cpu
  profile "$1"
  /usr/bin/time -f '%U %S' -o "$BENCH_DIR/client.time" "$CALLREADY" scan --profile "$BENCH_DIR/p.json" \
    --responder "127.0.0.1:$RESPONDER_CONTROL" --concurrency "$1" -o "$BENCH_DIR/r.json" >"$BENCH_DIR/scan.out" 2>&1
  awk '{print $1 + $2}' "$BENCH_DIR/client.time" >"$BENCH_DIR/client.cpu"
  [ -s "$BENCH_DIR/r.json" ] || { echo "FAIL: no report"; cat "$BENCH_DIR/scan.out"; exit 1; }
}

# One stream: client and responder CPU.
before=$(ticks "$RPID")
scan 1
after=$(ticks "$RPID")
packets=$((D * 50))
responder_s=$(awk "BEGIN{print ($after - $before) / $HZ}")
client_s=$(cat "$BENCH_DIR/client.cpu")
python3 - "$BENCH_DIR/r.json" "$packets" <<'PY' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
d = c.get("details", {})
ok = c["status"] == "pass" and d["upstream"]["sent"] == int(sys.argv[2]) and d["downstream"]["loss_pct"] == 0
print(f"one stream: {c['status']}, MOS {d.get('mos')}, RTT {d.get('rtt_ms')}")
sys.exit(0 if ok else 1)
PY
echo "one ${D} s G.711 stream ($packets packets): client ${client_s} CPU s, responder ${responder_s} CPU s"

# irtt's server for the same stream shape.
IRTT_S=-
if command -v irtt >/dev/null; then
  IPORT=$(free_udp_block 1)
  irtt server -b "127.0.0.1:$IPORT" >"$BENCH_DIR/irtt-server.log" 2>&1 &
  IPID=$!
  BENCH_PIDS+=("$IPID")
  wait_until 5 bash -c "ss -lun | grep -q '127.0.0.1:$IPORT '" || { echo "FAIL: irtt server did not start"; exit 1; }
  before=$(ticks "$IPID")
  timeout $((D + 10)) irtt client -Q -i 20ms -l 172 -d "${D}s" "127.0.0.1:$IPORT" || { echo "FAIL: irtt client"; exit 1; }
  after=$(ticks "$IPID")
  IRTT_S=$(awk "BEGIN{print ($after - $before) / $HZ}")
  echo "irtt server for the same stream: ${IRTT_S} CPU s"
else
  echo "irtt not installed: no peer row"
fi
bench_row "responder CPU, one ${D} s G.711 stream" "$responder_s" irtt-server "$IRTT_S"

# N streams at once: no loss the responder causes, its RSS with N sessions.
before=$(ticks "$RPID")
scan "$N"
after=$(ticks "$RPID")
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$RPID/status")
python3 - "$BENCH_DIR/r.json" "$N" <<'PY' || exit 1
import json, sys
checks = json.load(open(sys.argv[1]))["checks"]
errors = [c["id"] for c in checks if c["status"] == "error"]
lossy = [(c["id"], c["details"]["upstream"]["loss_pct"], c["details"]["downstream"]["loss_pct"]) for c in checks
         if c["status"] != "error" and (c["details"]["upstream"]["loss_pct"] or c["details"]["downstream"]["loss_pct"])]
print(f"{len(checks)} streams at once: {len(errors)} errors, {len(lossy)} with loss {lossy[:5]}")
sys.exit(0 if len(checks) == int(sys.argv[2]) and not errors and not lossy else 1)
PY
echo "responder: $(awk "BEGIN{print ($after - $before) / $HZ}") CPU s for $N streams, RSS $((rss_kb / 1024)) MiB ($rss_kb kB) with $N sessions"
bench_row "responder CPU, $N concurrent ${D} s G.711 streams" "$(awk "BEGIN{print ($after - $before) / $HZ}")" - -
