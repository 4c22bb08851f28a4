#!/usr/bin/env bash
# media_quality through the NAT router, loss attributed per direction, each
# case asserted exactly or within a stated bound (2-3 s G.711 streams):
#   - a clean path: no loss either way, MOS >= 4.3, pass;
#   - every 20th packet dropped upstream only (-m statistic --mode nth):
#     upstream 5.0% (+-0.1), downstream 0.0%, isolated losses, fail naming the uplink;
#   - bursts of 5 dropped downstream (tools/nfq_delay --drop-burst 5 --drop-every 50):
#     longest burst 5, downstream only, burst density 100%;
#   - 5% random loss both ways: fail, both directions named;
#   - a stream toward a port the responder does not serve: a set-up error.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
NFQ_DELAY="$BUILD_DIR/tools/nfq_delay/nfq_delay"
[ -x "$NFQ_DELAY" ] || { echo "SKIP: tools/nfq_delay not built (libnetfilter-queue-dev missing)"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 5004,8500 || exit 1
LAB_FAILED=0

params() { # params DURATION [PORT]
  echo "{\"host\": \"$LAB_CLOUD_IP\", \"port\": ${2:-5004}, \"source_port\": 8500, \"codec\": \"g711\", \"duration_s\": $1}"
}
scan() { lab_scan media_quality "$(params "$@")" --token "$LAB_TOKEN" --dns-server "$LAB_DNS_IP"; }
clear_rules() {
  lab_router iptables -F FORWARD
  lab_router iptables -t mangle -F FORWARD
}

# A clean path.
scan 2 || exit 1
lab_assert "$LAB_DIR/r.json" 'd["upstream"]["loss_pct"] == 0 and d["downstream"]["loss_pct"] == 0' "clean: no loss either way"
lab_assert "$LAB_DIR/r.json" 'd["mos"] >= 4.3 and c["status"] == "pass"' "clean: MOS >= 4.3 and pass"
lab_assert "$LAB_DIR/r.json" 'd["upstream"]["sent"] == 100 and d["downstream"]["received"] == 100' "clean: 100 packets each way"

# Every 20th packet upstream (the rule is added afresh: its counter starts at 0).
lab_router iptables -A FORWARD -i lan0 -o wan0 -p udp --dport 5004 -m statistic --mode nth --every 20 --packet 19 -j DROP
scan 2 || exit 1
lab_assert "$LAB_DIR/r.json" 'abs(d["upstream"]["loss_pct"] - 5.0) <= 0.1 and d["downstream"]["loss_pct"] == 0.0' \
  "nth upstream: upstream 5.0%, downstream 0.0%"
lab_assert "$LAB_DIR/r.json" 'd["upstream"]["max_burst"] == 1 and d["upstream"]["burst_density"] == 0' "nth upstream: isolated losses"
lab_assert "$LAB_DIR/r.json" \
  'c["status"] == "fail" and any(f["code"] == "media_quality.loss" and "uplink" in f["message"] for f in c["findings"]) and not any("downlink" in f["message"] and f["code"] == "media_quality.loss" for f in c["findings"])' \
  "nth upstream: fail, the finding names the uplink only"
clear_rules

# Bursts of 5 downstream: the replies from the responder's port, queued to nfq_delay.
lab_bg "$LAB_ROUTER" "$NFQ_DELAY" --queue 7 --drop-burst 5 --drop-every 50 --ready "$LAB_DIR/nfq.ready" --log "$LAB_DIR/nfq.log"
NFQ_PID=$LAB_LAST_PID
wait_until 5 test -e "$LAB_DIR/nfq.ready" || { echo "FAILED: nfq_delay did not start" >&2; cat "$LAB_LAST_LOG" >&2; exit 1; }
lab_router iptables -t mangle -A FORWARD -i wan0 -o lan0 -p udp --sport 5004 -j NFQUEUE --queue-num 7
scan 3 || exit 1
lab_assert "$LAB_DIR/r.json" 'd["downstream"]["max_burst"] == 5 and d["upstream"]["loss_pct"] == 0' \
  "bursts down: longest burst 5, downstream only"
lab_assert "$LAB_DIR/r.json" 'abs(d["downstream"]["loss_pct"] - 10.0) <= 0.1 and d["downstream"]["burst_density"] == 100' \
  "bursts down: 10% lost, all in bursts"
lab_assert "$LAB_DIR/r.json" 'any(f["code"] == "media_quality.loss" and "downlink" in f["message"] and "bursts of up to 5" in f["message"] for f in c["findings"])' \
  "bursts down: the finding names the downlink and the burst length"
clear_rules
kill -TERM "$NFQ_PID"

# 5% random loss both ways (UDP of the stream only; the control connection is TCP).
lab_router iptables -A FORWARD -p udp -m statistic --mode random --probability 0.05 -j DROP
scan 3 || exit 1
lab_assert "$LAB_DIR/r.json" \
  'c["status"] == "fail" and any("uplink" in f["message"] for f in c["findings"] if f["code"] == "media_quality.loss") and any("downlink" in f["message"] for f in c["findings"] if f["code"] == "media_quality.loss")' \
  "random 5% both ways: fail, both directions named"
clear_rules

# A port the responder does not serve.
scan 1 5006 || exit 1
lab_assert "$LAB_DIR/r.json" 'c["status"] == "error" and c["error"]["reason"] == "setup"' "unserved port: a set-up error"

exit $LAB_FAILED
