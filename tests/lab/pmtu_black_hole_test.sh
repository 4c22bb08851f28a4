#!/usr/bin/env bash
# A PMTU black hole: the WAN link is 1400 and the router drops its own ICMP
# Fragmentation Needed (OUTPUT and FORWARD). callready finds 1400 by bisection
# and reports `black_hole` with the critical finding; tracepath, run in the same
# test, is recorded beside it (LAB.md: it wrongly reports 1500 here).
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v tracepath >/dev/null || { echo "SKIP: tracepath not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20400 || exit 1
set_wan_mtu 1400
for chain in OUTPUT FORWARD; do
  lab_router iptables -A "$chain" -p icmp --icmp-type fragmentation-needed -j DROP
done
lab_profile "$LAB_DIR/p.json" pmtu '{"host": "203.0.113.10", "port": 20400}'

lab_client ip route flush cache
start=$(date +%s%N)
lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" --token "$LAB_TOKEN" -o "$LAB_DIR/r.json" >"$LAB_DIR/scan.out" 2>&1
ours_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ -s "$LAB_DIR/r.json" ] || { cat "$LAB_DIR/scan.out"; exit 1; }
lab_client ip route flush cache
start=$(date +%s%N)
tp=$(lab_client timeout 20 tracepath -n -m 4 203.0.113.10 | sed -n 's/.*pmtu \([0-9]*\).*/\1/p' | tail -1)
tp_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ours=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["details"]["path_mtu"])' "$LAB_DIR/r.json")
echo "black hole at 1400: callready path_mtu=$ours in ${ours_ms} ms; tracepath pmtu=${tp:-none} in ${tp_ms} ms"

LAB_FAILED=0
lab_assert "$LAB_DIR/r.json" 'd["path_mtu"] == 1400'
lab_assert "$LAB_DIR/r.json" 'd["black_hole"] is True and d["icmp_seen"] is False'
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["pmtu.black_hole", "pmtu.below_recommended"]'
lab_assert "$LAB_DIR/r.json" 'c["findings"][0]["severity"] == "critical" and "Fragmentation Needed" in c["findings"][0]["remediation"]'
lab_assert "$LAB_DIR/r.json" 'c["findings"][0]["operation"] == "receive" and "operation" not in c["findings"][1]' "the black hole is a failed receive; the MTU a measurement"
lab_assert "$LAB_DIR/r.json" 'd["thresholds"]["warning_below"] == 1500 and d["thresholds"]["critical_below"] == 1300' "the thresholds judged against are in the details"
lab_assert "$LAB_DIR/r.json" 'c["status"] != "pass"'
[ "$tp" != 1400 ] && echo "ok: tracepath cannot see the black hole (reports ${tp:-nothing})" || echo "note: tracepath found 1400 too"
exit $LAB_FAILED
