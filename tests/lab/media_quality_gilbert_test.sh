#!/usr/bin/env bash
# media_quality through the NAT router with Gilbert-model burst loss added
# upstream by tools/nfq_delay (--gilbert-p 0.03 --gilbert-r 0.3, seeded): in
# the good state a packet passes and turns the state bad with p; in the bad
# state it is dropped and turns it good with r. So the loss rate is
# p / (p + r) = 9.09%, the mean burst 1 / r = 3.33 packets and the E-model's
# BurstR 1 / (p + r) = 3.03. The stream: 10 s of the video codec (1,704
# packets, the most packets in a short run).
#   - Exactly what nfq_delay did: its log lists each queued packet's fate in
#     order; over the stream's packets the check's upstream received count,
#     longest burst and BurstR equal those of that log (BurstR within 0.01),
#     and nothing is lost downstream.
#   - Consistent with the configured p and r over this bounded stream: loss
#     within 4.5 percentage points of 9.09%, mean burst (BurstR / (1 - loss))
#     within 35% of 3.33, BurstR within 35% of 3.03: about three standard
#     errors of a 1,704-packet Gilbert sample (~46 bursts), so a broken model
#     (random loss: mean burst ~1.1, BurstR ~1) fails while sampling does not;
#   - bursty, not random: RFC 3611 burst density above gap density, and the
#     finding says "in bursts".
set -u
# shellcheck disable=SC2034  # read by lib.sh: the namespace names, with a prefix of this test's own
LAB_SUFFIX="h12-$$-$RANDOM"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
NFQ_DELAY="$BUILD_DIR/tools/nfq_delay/nfq_delay"
[ -x "$NFQ_DELAY" ] || { echo "SKIP: tools/nfq_delay not built (libnetfilter-queue-dev missing)"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 5004 || exit 1
LAB_FAILED=0

lab_bg "$LAB_ROUTER" "$NFQ_DELAY" --queue 5 --gilbert-p 0.03 --gilbert-r 0.3 --seed 4 \
  --ready "$LAB_DIR/nfq.ready" --log "$LAB_DIR/nfq.log"
NFQ_PID=$LAB_LAST_PID
wait_until 5 test -e "$LAB_DIR/nfq.ready" || { echo "FAILED: nfq_delay did not start" >&2; exit 1; }
lab_router iptables -t mangle -A FORWARD -i lan0 -o wan0 -p udp --dport 5004 -j NFQUEUE --queue-num 5
lab_scan media_quality "{\"host\": \"$LAB_CLOUD_IP\", \"port\": 5004, \"codec\": \"video\", \"duration_s\": 10}" \
  --token "$LAB_TOKEN" --dns-server "$LAB_DNS_IP" || exit 1
lab_router iptables -t mangle -F FORWARD
kill -TERM "$NFQ_PID"
wait_until 5 grep -q '^summary' "$LAB_DIR/nfq.log" || { echo "FAILED: nfq_delay wrote no summary" >&2; exit 1; }

python3 - "$LAB_DIR/r.json" "$LAB_DIR/nfq.log" <<'PY' || LAB_FAILED=1
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
d, up = c["details"], c["details"]["upstream"]
# nfq_delay's log: one line per queued packet in queue order; the stream's
# packets come first (the check's tail probes follow them).
fates = [line.split()[0] == "drop" for line in open(sys.argv[2]) if line.split()[0] in ("pkt", "drop")]
n = up["sent"]
lost = fates[:n]
assert len(lost) == n, f"nfq_delay queued {len(fates)} packets, the stream sent {n}"

def runs(series):
    out, run = [], 0
    for l in series + [False]:
        if l:
            run += 1
        elif run:
            out.append(run)
            run = 0
    return out

def burst_ratio(series):  # as G.107 and the check: 1 / (p + q) of the fitted two-state chain
    fr = rl = fl = lr = 0
    for a, b in zip(series, series[1:]):
        if a:
            fl += 1
            lr += not b
        else:
            fr += 1
            rl += b
    p = rl / fr if fr else 0
    q = lr / fl if fl else 1
    return 1 / (p + q) if p + q else 1

truth = {"received": n - sum(lost), "max_burst": max(runs(lost), default=0), "burst_r": burst_ratio(lost)}
ours = {"received": up["received"], "max_burst": up["max_burst"], "burst_r": up["burst_r"]}
loss = up["loss_pct"] / 100
mean_burst = up["burst_r"] / (1 - loss)
p, r = 0.03, 0.3
print(f"{n} packets; nfq_delay dropped {sum(lost)} in {len(runs(lost))} bursts: {truth}; check: {ours}")
print(f"loss {up['loss_pct']}% (model {100 * p / (p + r):.2f}%), mean burst {mean_burst:.2f} (model {1 / r:.2f}), "
      f"BurstR {up['burst_r']} (model {1 / (p + r):.2f}), burst/gap density {up['burst_density']}/{up['gap_density']}%")
checks = [
    ("received as nfq_delay let through", ours["received"] == truth["received"]),
    ("longest burst as nfq_delay dropped", ours["max_burst"] == truth["max_burst"]),
    ("BurstR of nfq_delay's pattern", abs(ours["burst_r"] - truth["burst_r"]) <= 0.01),
    ("nothing lost downstream", d["downstream"]["loss_pct"] == 0),
    ("loss within 4.5 points of p/(p+r)", abs(loss - p / (p + r)) <= 0.045),
    ("mean burst within 35% of 1/r", abs(mean_burst - 1 / r) <= 0.35 / r),
    ("BurstR within 35% of 1/(p+r)", abs(up["burst_r"] - 1 / (p + r)) <= 0.35 / (p + r)),
    ("burst density above gap density", up["burst_density"] > up["gap_density"]),
    ("the finding says bursts, uplink", any(f["code"] == "media_quality.loss" and "uplink" in f["message"]
                                            and "in bursts of up to" in f["message"] for f in c["findings"])),
]
for name, ok in checks:
    print(("ok: " if ok else "FAILED: ") + name, file=sys.stdout if ok else sys.stderr)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY

exit $LAB_FAILED
