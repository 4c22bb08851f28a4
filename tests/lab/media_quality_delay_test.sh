#!/usr/bin/env bash
# media_quality through the NAT router with delay and jitter added in one
# direction by tools/nfq_delay, and compared with irtt (a peer nobody here
# wrote) on the same path in the same run:
#   - 40 +- 10 ms added upstream only: RTT median within 40 +- 3 ms of the
#     clean baseline, upstream jitter within 20% of the RFC 3550 jitter
#     nfq_delay logged for the delays it added, downstream jitter < 1 ms;
#   - every 20th packet dropped upstream and 20 ms added upstream (no jitter),
#     then the same for irtt's flow: per-direction loss within one packet of
#     irtt's flow (at least 0.2 points), RTT median within 1 ms of irtt's.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
NFQ_DELAY="$BUILD_DIR/tools/nfq_delay/nfq_delay"
[ -x "$NFQ_DELAY" ] || { echo "SKIP: tools/nfq_delay not built (libnetfilter-queue-dev missing)"; exit 77; }
command -v irtt >/dev/null || { echo "SKIP: irtt not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 5004 || exit 1
LAB_FAILED=0

scan() { # scan DURATION
  lab_scan media_quality "{\"host\": \"$LAB_CLOUD_IP\", \"port\": 5004, \"codec\": \"g711\", \"duration_s\": $1}" \
    --token "$LAB_TOKEN" --dns-server "$LAB_DNS_IP"
}
value() { python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['checks'][0]['details']; print($1)" "$LAB_DIR/r.json"; }

# nfq DELAY JITTER: nfq_delay on queue 3 in the router; waits until it is bound.
nfq() {
  rm -f "$LAB_DIR/nfq.ready"
  lab_bg "$LAB_ROUTER" "$NFQ_DELAY" --queue 3 --delay-ms "$1" --jitter-ms "$2" --seed 12 \
    --ready "$LAB_DIR/nfq.ready" --log "$LAB_DIR/nfq.log"
  NFQ_PID=$LAB_LAST_PID
  wait_until 5 test -e "$LAB_DIR/nfq.ready" || { echo "FAILED: nfq_delay did not start" >&2; exit 1; }
}
nfq_stop() {
  kill -TERM "$NFQ_PID"
  wait_until 5 grep -q '^summary' "$LAB_DIR/nfq.log" || { echo "FAILED: nfq_delay wrote no summary" >&2; exit 1; }
}

# The clean baseline.
scan 2 || exit 1
BASE=$(value 'd["rtt_ms"]["median"]')
echo "baseline RTT median: $BASE ms"

# 40 +- 10 ms upstream only.
nfq 40 10
lab_router iptables -t mangle -A FORWARD -i lan0 -o wan0 -p udp --dport 5004 -j NFQUEUE --queue-num 3
scan 3 || exit 1
lab_router iptables -t mangle -F FORWARD
nfq_stop
NFQ_JITTER=$(sed -n 's/^summary.* jitter_rfc3550_ms=\([0-9.]*\).*/\1/p' "$LAB_DIR/nfq.log")
NFQ_HELD_JITTER=$(sed -n 's/^summary.* held_jitter_ms=\([0-9.]*\).*/\1/p' "$LAB_DIR/nfq.log")
echo "nfq_delay logged jitter $NFQ_JITTER ms (held: $NFQ_HELD_JITTER ms); check: $(value 'd["upstream"]["jitter_ms"], d["downstream"]["jitter_ms"], d["rtt_ms"]')"
lab_assert "$LAB_DIR/r.json" "abs(d['rtt_ms']['median'] - $BASE - 40) <= 3" "40+-10 up: RTT median within 40 +- 3 ms of the baseline"
lab_assert "$LAB_DIR/r.json" "abs(d['upstream']['jitter_ms'] - $NFQ_JITTER) <= 0.2 * $NFQ_JITTER" \
  "40+-10 up: upstream jitter within 20% of nfq_delay's $NFQ_JITTER ms"
lab_assert "$LAB_DIR/r.json" 'd["downstream"]["jitter_ms"] < 1' "40+-10 up: downstream jitter < 1 ms"
lab_assert "$LAB_DIR/r.json" 'd["upstream"]["loss_pct"] == 0 and d["downstream"]["loss_pct"] == 0' "40+-10 up: no loss"

# irtt against the check: same path shape, each flow with its own nth rule.
lab_bg "$LAB_CLOUD" irtt server -b "$LAB_CLOUD_IP:2112"
wait_until 5 lab_cloud bash -c "ss -lun | grep -q ':2112 '" || { echo "FAILED: irtt server did not start" >&2; exit 1; }
nfq 20 0
for port in 5004 2112; do
  lab_router iptables -A FORWARD -i lan0 -o wan0 -p udp --dport $port -m statistic --mode nth --every 20 --packet 19 -j DROP
  lab_router iptables -t mangle -A FORWARD -i lan0 -o wan0 -p udp --dport $port -j NFQUEUE --queue-num 3
done
scan 2 || exit 1
lab_client timeout 20 irtt client -Q -i 20ms -l 172 -d 2s --dscp=0xb8 -o "$LAB_DIR/irtt.json" "$LAB_CLOUD_IP:2112" ||
  { echo "FAILED: irtt client" >&2; exit 1; }
lab_router iptables -F FORWARD
lab_router iptables -t mangle -F FORWARD
nfq_stop
python3 - "$LAB_DIR/r.json" "$LAB_DIR/irtt.json" <<'PY' || LAB_FAILED=1
import json, sys
d = json.load(open(sys.argv[1]))["checks"][0]["details"]
s = json.load(open(sys.argv[2]))["stats"]
ours = {"up": d["upstream"]["loss_pct"], "down": d["downstream"]["loss_pct"], "rtt": d["rtt_ms"]["median"]}
theirs = {"up": s["upstream_loss_percent"], "down": s["downstream_loss_percent"], "rtt": s["rtt"]["median"] / 1e6}
# A 2 s flow is about 100 packets: one packet is one point. A loaded
# machine can leave irtt a packet or two short of 100 (4 of 98 lost is
# 4.08%, against 5 of 100), so loss agrees within one packet of irtt's flow
# (at least 0.2 points).
one_packet = 100.0 / max(1, s.get("packets_sent", 100)) + 0.01
loss_tol = max(0.2, one_packet)
print(f"callready {ours}, irtt {theirs} (irtt sent {s.get('packets_sent')}; loss tolerance {loss_tol:.2f} points)")
bad = [k for k, tol in (("up", loss_tol), ("down", loss_tol), ("rtt", 1.0)) if abs(ours[k] - theirs[k]) > tol]
for k in bad:
    print(f"FAILED: {k}: callready {ours[k]} vs irtt {theirs[k]}", file=sys.stderr)
if not bad:
    print("ok: irtt agrees: loss within one packet each way, RTT median within 1 ms")
sys.exit(1 if bad else 0)
PY

exit $LAB_FAILED
