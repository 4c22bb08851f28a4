#!/usr/bin/env bash
# The `nat_timeout` check through a real NAT whose conntrack timeouts are set
# in the router's namespace (per-namespace sysctls on this kernel):
#   nf_conntrack_udp_timeout         20 s  (a flow with replies younger than 2 s)
#   nf_conntrack_udp_timeout_stream  45 s  (replies both ways, older than 2 s)
#   nf_conntrack_tcp_timeout_established 60 s
#  1. the single-exchange UDP bindings read the short timeout (15 s reached,
#     25 s expired), the call-like ones the stream timeout (40 / 50 s), the
#     TCP connections the established timeout (55 / 70 s), each bracketed at
#     the ladder's resolution, and each below its line is a critical finding;
#  2. an expired TCP connection, used again, gets a reset (the router answered
#     the responder's late segment with a reset, so the responder's side is gone);
#  3. the check's wall time stays within the largest rung plus a few seconds;
#  4. coturn's turnutils_natdiscovery -t (RFC 5780 binding lifetime, one idle
#     time per run, single exchange) agrees for 15 s (alive) and 25 s (expired),
#     run in the same lab at the same time.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

lab_router sysctl -qw net.netfilter.nf_conntrack_udp_timeout=20 net.netfilter.nf_conntrack_udp_timeout_stream=45 \
  net.netfilter.nf_conntrack_tcp_timeout_established=60 || { echo "FAIL: cannot set the router's conntrack timeouts"; exit 1; }
[ "$(lab_router sysctl -n net.netfilter.nf_conntrack_udp_timeout)" = 20 ] || { echo "FAIL: sysctl not per namespace"; exit 1; }

lab_start_responder --udp-ports 20000 --tcp-ports 8443 || exit 1
lab_bg "$LAB_CLOUD" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
  --listening-ip="$LAB_CLOUD_IP" --listening-ip="$LAB_CLOUD_IP2" --listening-port=3478 \
  --alt-listening-port=3479 --relay-ip="$LAB_CLOUD_IP" --userdb="$LAB_DIR/turndb" \
  --pidfile="$LAB_DIR/turn.pid" --log-file="$LAB_DIR/turn.log" --no-stdout-log
lab_wait_tcp "$LAB_CLOUD_IP" 3478 || exit 1

LAB_FAILED=0
LADDER="[10, 15, 25, 35, 40, 50, 55, 70, 80]"
MAX_S=80
PARAMS="{\"host\": \"$LAB_CLOUD_IP\", \"max_s\": $MAX_S, \"ladder\": $LADDER, \"udp_port\": 20000,
         \"tcp_port\": 8443, \"reply_wait_ms\": 1500, \"timeout_ms\": 120000}"

# natdiscovery -t: "RFC 5780 response 2" when the binding outlived -T, a receive timeout otherwise.
natdiscovery_lifetime() {
  local t0
  t0=$(date +%s.%N)
  lab_client timeout 60 turnutils_natdiscovery -t -T "$1" -p 3478 "$LAB_CLOUD_IP" >"$LAB_DIR/natdiscovery-$1.txt" 2>&1
  echo "$(date +%s.%N) - $t0" | bc >"$LAB_DIR/natdiscovery-$1.s"
}
natdiscovery_lifetime 15 &
ND15=$!
natdiscovery_lifetime 25 &
ND25=$!

start=$(date +%s.%N)
lab_scan nat_timeout "$PARAMS" --timeout 150 --dns-server "$LAB_DNS_IP" \
  --responder "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" || { echo "FAIL: no report"; exit 1; }
wall=$(echo "$(date +%s.%N) - $start" | bc)
wait "$ND15" "$ND25"
R="$LAB_DIR/r.json"
python3 - "$R" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
d = c["details"]
print("callready nat_timeout:", c["status"], c["summary"], f'({c["duration_ms"]} ms)')
for k in ("udp", "udp_single", "tcp"):
    x = d.get(k) or {}
    print(f'  {k}: lifetime {x.get("lifetime_min_s")}-{x.get("lifetime_max_s")} s,',
          " ".join(f'{r["idle_s"]}:{r["outcome"][0]}{"/" + r["after"] if "after" in r else ""}' for r in x.get("rungs", [])))
PY
echo "scan wall time: ${wall}s"

lab_assert "$R" 'c["status"] == "fail" and "error" not in c' "the check ran and failed (timeouts below their lines)"
lab_assert "$R" 'd["udp_single"]["lifetime_min_s"] == 15 and d["udp_single"]["lifetime_max_s"] == 25' \
  "single exchange: 15 s reached, 25 s expired (nf_conntrack_udp_timeout 20)"
lab_assert "$R" 'd["udp"]["lifetime_min_s"] == 40 and d["udp"]["lifetime_max_s"] == 50' \
  "call-like: 40 s reached, 50 s expired (nf_conntrack_udp_timeout_stream 45)"
lab_assert "$R" 'd["tcp"]["lifetime_min_s"] == 55 and d["tcp"]["lifetime_max_s"] == 70' \
  "TCP: 55 s reached, 70 s expired (nf_conntrack_tcp_timeout_established 60)"
lab_assert "$R" 'all(d[k]["max_s"] == 80 for k in ("udp", "udp_single", "tcp"))' "max_s is the largest rung"
lab_assert "$R" 'all(r["outcome"] in ("reached", "expired") for k in ("udp", "udp_single", "tcp") for r in d[k]["rungs"])' \
  "every rung was told (the canary proved every deferred reply was sent)"
lab_assert "$R" 'all(r.get("after") == "reset" for r in d["tcp"]["rungs"] if r["outcome"] == "expired")' \
  "an expired TCP connection used again gets a reset"
lab_assert "$R" '{f["code"] for f in c["findings"] if f["severity"] == "critical"} == {"nat_timeout.udp_short", "nat_timeout.udp_single_short", "nat_timeout.tcp_short"}' \
  "each short lifetime is a critical finding"
lab_assert "$R" "c['duration_ms'] <= ($MAX_S + 6) * 1000" "the check's wall time is within the largest rung + 6 s"

# coturn's lifetime test, one idle time per run.
nd15=$(grep -c "RFC 5780 response 2" "$LAB_DIR/natdiscovery-15.txt")
nd25=$(grep -c "RFC 5780 response 2" "$LAB_DIR/natdiscovery-25.txt")
echo "turnutils_natdiscovery -t: 15 s $([ "$nd15" -gt 0 ] && echo alive || echo expired)," \
  "25 s $([ "$nd25" -gt 0 ] && echo alive || echo expired) (two runs, one idle time each:" \
  "$(cat "$LAB_DIR/natdiscovery-15.s") s and $(cat "$LAB_DIR/natdiscovery-25.s") s of wall time;" \
  "callready: 9 idle times x 3 flows in one run of ${wall} s)"
lab_assert "$R" "$([ "$nd15" -gt 0 ] && echo True || echo False) and d['udp_single']['rungs'][1]['outcome'] == 'reached'" \
  "turnutils_natdiscovery agrees: a binding idle 15 s is alive"
lab_assert "$R" "$([ "$nd25" -eq 0 ] && echo True || echo False) and d['udp_single']['rungs'][2]['outcome'] == 'expired'" \
  "turnutils_natdiscovery agrees: a binding idle 25 s has expired"

exit "$LAB_FAILED"
