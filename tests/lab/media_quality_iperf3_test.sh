#!/usr/bin/env bash
# media_quality against iperf3 (a peer nobody here wrote), same path, same
# run: a 10 s G.711 stream of the check and a G.711-like iperf3 UDP flow
# (-u -b 68.8k -l 172 -t 10: 172-byte datagrams, 50 per second) cross the NAT
# router at the same time, each flow through
#   - its own tools/nfq_delay (5 +- 4 ms added upstream, the same seed: the
#     i-th packet of each flow is held the same time), and
#   - its own `-m statistic --mode nth --every 20` drop upstream (exactly 5%).
# iperf3's server reports the receiver side of the upstream direction, so it
# is compared with the check's upstream figures:
#   - loss within 0.2 percentage points of iperf3's (both should be 5.0%);
#   - RFC 3550 jitter within 20% (and 0.5 ms) of iperf3's: iperf3's flow
#     sees its delays one packet later than the check's (its connect datagram
#     takes the first), so the two estimators run over nearly the same
#     differences, not identical ones.
# The delay is kept under the 20 ms packet gap so that iperf3's last
# datagram is not still in flight when its test ends (iperf3 counts loss up
# to the highest sequence it received, so a late last datagram would count
# neither as received nor as lost).
set -u
# shellcheck disable=SC2034  # read by lib.sh: the namespace names, with a prefix of this test's own
LAB_SUFFIX="h12-$$-$RANDOM"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
NFQ_DELAY="$BUILD_DIR/tools/nfq_delay/nfq_delay"
[ -x "$NFQ_DELAY" ] || { echo "SKIP: tools/nfq_delay not built (libnetfilter-queue-dev missing)"; exit 77; }
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 5004 || exit 1
LAB_FAILED=0

# nfq QUEUE PORT: nfq_delay for the upstream flow to PORT, waits until bound.
nfq() {
  lab_bg "$LAB_ROUTER" "$NFQ_DELAY" --queue "$1" --delay-ms 5 --jitter-ms 4 --seed 21 \
    --ready "$LAB_DIR/nfq$1.ready" --log "$LAB_DIR/nfq$1.log"
  wait_until 5 test -e "$LAB_DIR/nfq$1.ready" || { echo "FAILED: nfq_delay did not start" >&2; exit 1; }
  lab_router iptables -t mangle -A FORWARD -i lan0 -o wan0 -p udp --dport "$2" -j NFQUEUE --queue-num "$1"
  lab_router iptables -A FORWARD -i lan0 -o wan0 -p udp --dport "$2" -m statistic --mode nth --every 20 --packet 19 -j DROP
}

lab_bg "$LAB_CLOUD" iperf3 -s -1 -B "$LAB_CLOUD_IP" -p 5201
wait_until 5 lab_cloud bash -c "ss -ltn | grep -q '$LAB_CLOUD_IP:5201 '" || { echo "FAILED: iperf3 -s did not start" >&2; exit 1; }
nfq 3 5004
nfq 4 5201

# Both flows at once: iperf3 in the background, the scan in the foreground.
lab_bg "$LAB_CLIENT" timeout 30 iperf3 -c "$LAB_CLOUD_IP" -p 5201 -u -b 68.8k -l 172 -t 10 -J
IPERF_PID=$LAB_LAST_PID
IPERF_LOG=$LAB_LAST_LOG
lab_scan media_quality "{\"host\": \"$LAB_CLOUD_IP\", \"port\": 5004, \"codec\": \"g711\", \"duration_s\": 10}" \
  --token "$LAB_TOKEN" --dns-server "$LAB_DNS_IP" || exit 1
wait "$IPERF_PID" || { echo "FAILED: iperf3 client" >&2; cat "$IPERF_LOG" >&2; exit 1; }

python3 - "$LAB_DIR/r.json" "$IPERF_LOG" <<'PY' || LAB_FAILED=1
import json, sys
d = json.load(open(sys.argv[1]))["checks"][0]["details"]
s = json.load(open(sys.argv[2]))["end"]["sum_received"]  # what iperf3's server saw: the upstream receiver
ours = {"loss": d["upstream"]["loss_pct"], "jitter": d["upstream"]["jitter_ms"]}
theirs = {"loss": s["lost_percent"], "jitter": s["jitter_ms"]}
print(f"callready upstream {ours} ({d['upstream']['received']} of {d['upstream']['sent']}), "
      f"iperf3 receiver {theirs} ({s['packets'] - s['lost_packets']} of {s['packets']})")
bad = []
if abs(ours["loss"] - theirs["loss"]) > 0.2:
    bad.append("loss")
if abs(ours["jitter"] - theirs["jitter"]) > max(0.2 * theirs["jitter"], 0.5):
    bad.append("jitter")
if abs(ours["loss"] - 5.0) > 0.1 or d["downstream"]["loss_pct"] != 0:
    bad.append("loss itself (5.0% up, 0% down expected)")
if not 1.0 <= ours["jitter"] <= 5.0:  # 5 +- 4 ms uniform: about 8/3 ms
    bad.append("jitter itself (about 2.7 ms expected)")
for k in bad:
    print(f"FAILED: {k}: callready {ours}, iperf3 {theirs}", file=sys.stderr)
if not bad:
    print("ok: iperf3 agrees: upstream loss within 0.2 percentage points, jitter within 20%")
sys.exit(1 if bad else 0)
PY

exit $LAB_FAILED
