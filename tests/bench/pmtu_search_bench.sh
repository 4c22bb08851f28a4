#!/usr/bin/env bash
# PMTU search time against tracepath (the peer), same lab, same run: WAN MTU
# 1400 with ICMP, and the black hole (ICMP Fragmentation Needed dropped).
# quick: one search per case, callready finds 1400 exactly (and tracepath
# agrees where it can, with ICMP). full: 3 runs per case, tracepath timed in
# both (12 s into the black hole, and wrong), callready <= 3 s every time.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v tracepath >/dev/null || { echo "SKIP: tracepath not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20400 || exit 1
set_wan_mtu 1400
lab_profile "$LAB_DIR/p.json" pmtu '{"host": "203.0.113.10", "port": 20400}'
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
if bench_quick; then RUNS=1; else RUNS=3; fi

FAILED=0
for case in icmp black_hole; do
  if [ "$case" = black_hole ]; then
    lab_router iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
    lab_router iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -j DROP
  fi
  : >"$LAB_DIR/t_cr"; : >"$LAB_DIR/t_tp"
  for run in $(seq "$RUNS"); do
    lab_client ip route flush cache
    t0=$(now_ms)
    lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" --token "$LAB_TOKEN" -o "$LAB_DIR/r.json" >/dev/null 2>&1
    t1=$(now_ms)
    read -r mtu check_ms probes < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; d=c["details"]; print(d["path_mtu"], c["duration_ms"], d["probes_sent"])' "$LAB_DIR/r.json")
    echo "$case run $run: callready path_mtu=$mtu check ${check_ms} ms (process $((t1 - t0)) ms, $probes probes)"
    echo "$((t1 - t0))" >>"$LAB_DIR/t_cr"
    [ "$mtu" = 1400 ] || { echo "FAIL: wrong path MTU $mtu"; FAILED=1; }
    bench_quick || [ $((t1 - t0)) -le 3000 ] || { echo "FAIL: slower than 3 s"; FAILED=1; }
    # tracepath into the black hole takes 12 s (and says 1500): full mode only.
    if [ "$case" = icmp ] || ! bench_quick; then
      lab_client ip route flush cache
      t1=$(now_ms)
      tp=$(lab_client timeout 20 tracepath -n -m 4 203.0.113.10 | sed -n 's/.*pmtu \([0-9]*\).*/\1/p' | tail -1)
      t2=$(now_ms)
      echo "$((t2 - t1))" >>"$LAB_DIR/t_tp"
      echo "$case run $run: tracepath pmtu=${tp:-none} $((t2 - t1)) ms"
      if [ "$case" = icmp ] && [ "${tp:-}" != 1400 ]; then echo "FAIL: tracepath (the peer) says ${tp:-nothing}"; FAILED=1; fi
    fi
  done
  if ! bench_quick; then
    bench_row "pmtu search, WAN MTU 1400, $case (median of $RUNS)" \
      "$(median <"$LAB_DIR/t_cr" | awk '{print $1 / 1000}')" "tracepath" "$(median <"$LAB_DIR/t_tp" | awk '{print $1 / 1000}')"
  fi
done
exit $FAILED
