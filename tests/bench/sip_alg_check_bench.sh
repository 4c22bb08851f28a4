#!/usr/bin/env bash
# SIP ALG check over UDP+TCP (from 5060 and an ephemeral port, INVITE and
# REGISTER: 8 requests) through the lab NAT, helper off and on.
# quick: one run per helper state, the right verdict and 8/8 mirrored.
# full: 3 runs per state, each check <= 1 s. No peer does this job.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v conntrack >/dev/null || { echo "SKIP: conntrack not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --sip-ports 5060 --bind 203.0.113.10 || exit 1
lab_profile "$LAB_DIR/p.json" sip_alg '{"host": "203.0.113.10", "transport": "both"}'
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
if bench_quick; then RUNS=1; else RUNS=3; fi

FAILED=0
for helper in off on; do
  lab_router iptables -t raw -F PREROUTING
  if [ "$helper" = on ]; then
    lab_router iptables -t raw -A PREROUTING -i lan0 -p udp --dport 5060 -j CT --helper sip
    lab_router iptables -t raw -A PREROUTING -i lan0 -p tcp --dport 5060 -j CT --helper sip
  fi
  : >"$LAB_DIR/t_check"
  for run in $(seq "$RUNS"); do
    lab_router conntrack -F >/dev/null 2>&1; lab_router conntrack -F expect >/dev/null 2>&1
    t0=$(now_ms)
    lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" --token "$LAB_TOKEN" -o "$LAB_DIR/r.json" >/dev/null 2>&1
    t1=$(now_ms)
    read -r detected check_ms n < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; d=c["details"]; print(d["alg_detected"], c["duration_ms"], sum(a["outcome"]=="mirrored" for a in d["attempts"]))' "$LAB_DIR/r.json")
    echo "helper $helper run $run: alg_detected=$detected, $n/8 mirrored, check ${check_ms} ms, process $((t1 - t0)) ms"
    echo "$check_ms" >>"$LAB_DIR/t_check"
    want=$([ "$helper" = on ] && echo True || echo False)
    [ "$detected" = "$want" ] && [ "$n" = 8 ] || { echo "FAIL: wrong result"; FAILED=1; }
    bench_quick || [ "$check_ms" -le 1000 ] || { echo "FAIL: slower than 1 s"; FAILED=1; }
  done
  bench_quick || bench_row "sip_alg check, 8 requests, helper $helper (median of $RUNS)" \
    "$(median <"$LAB_DIR/t_check" | awk '{print $1 / 1000}')" - -
done
exit $FAILED
