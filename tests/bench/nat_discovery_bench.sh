#!/usr/bin/env bash
# RFC 5780 NAT behaviour discovery through the NAT lab: the wall time of a
# `callready scan` of one `stun` check (first Binding exchange + the mapping
# and filtering tests, against coturn with an alternate address, the set-up
# of tests/lab/stun_nat_test.sh) against `turnutils_natdiscovery -m -f` doing
# the same tests in the same run, for three shapes of the router:
#   masquerade    MASQUERADE: endpoint-independent mapping,
#                 address-and-port-dependent filtering;
#   random-fully  MASQUERADE --random-fully: address-and-port-dependent mapping;
#   routed        no NAT (the cloud routes back): endpoint-independent both.
# Both tools' verdicts must be identical in every shape (and the ones above).
# quick (CI): one callready run per shape, turnutils_natdiscovery for
#   masquerade only (its ~6 s is most of the bench; stun_nat_test.sh compares
#   the other shapes), a generous ratio bound (<= 0.8), no table rows.
# full: 3 runs of each tool per shape (medians), one ratio row per shape; the
#   issue's goal, a ratio <= 0.25, is asserted where a NAT filters (masquerade,
#   random-fully: the filtering tests wait out silence). Routed, every test is
#   answered and turnutils_natdiscovery is done in ~25 ms, about what a
#   `callready scan` process takes to start and write its report: there the
#   bench asserts that the check itself (duration_ms) takes no longer than the
#   peer's whole run, and the row shows the wall-time ratio as measured.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
LAB_SUFFIX="s1nd-$$-$RANDOM"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
command -v turnutils_natdiscovery >/dev/null || { echo "SKIP: turnutils_natdiscovery not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1
if bench_quick; then RUNS=1 BOUND=0.8; else RUNS=3 BOUND=0.25; fi
PORT=5004

lab_bg "$LAB_CLOUD" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
  --listening-ip="$LAB_CLOUD_IP" --listening-ip="$LAB_CLOUD_IP2" --listening-port=$PORT \
  --alt-listening-port=$((PORT + 1)) --relay-ip="$LAB_CLOUD_IP" --userdb="$LAB_DIR/turndb" \
  --pidfile="$LAB_DIR/turn.pid" --log-file="$LAB_DIR/turn.log" --no-stdout-log
TURN_PID=$LAB_LAST_PID
WAIT_PID=$TURN_PID lab_wait_tcp "$LAB_CLOUD_IP" $PORT || exit 1
# Ready when every address and port of the RFC 5780 set answers a Binding over
# UDP (the TCP listener comes up first; a slow first answer would be timed).
stun_answers() {
  lab_client python3 -c '
import os, socket, sys
for host, port in ((sys.argv[1], int(sys.argv[3])), (sys.argv[2], int(sys.argv[3])), (sys.argv[2], int(sys.argv[3]) + 1)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    tid = os.urandom(12)
    s.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + tid, (host, port))
    if s.recv(2048)[8:20] != tid:
        sys.exit(1)
' "$LAB_CLOUD_IP" "$LAB_CLOUD_IP2" $PORT 2>/dev/null
}
WAIT_PID=$TURN_PID wait_until 10 stun_answers || { echo "FAIL: coturn does not answer STUN on UDP $PORT"; exit 1; }

lab_profile "$LAB_DIR/p.json" stun "{\"host\": \"$LAB_CLOUD_IP\", \"port\": $PORT, \"timeout_ms\": 20000}"

# callready_run SHAPE I: one timed scan; prints "seconds mapping filtering duration_ms".
callready_run() {
  local report="$LAB_DIR/r-$1-$2.json" t0 t1
  t0=$(date +%s.%N)
  lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" --timeout 40 -q -o "$report" \
    --dns-server "$LAB_DNS_IP" >"$LAB_DIR/scan-$1-$2.out" 2>&1
  t1=$(date +%s.%N)
  [ -s "$report" ] || { cat "$LAB_DIR/scan-$1-$2.out" >&2; echo "0 none none 0"; return 1; }
  python3 - "$report" "$(awk "BEGIN{print $t1 - $t0}")" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
d = c["details"]
print(sys.argv[2], d.get("mapping_behavior", "none").replace(" ", "_"), d.get("filtering_behavior", "none").replace(" ", "_"), c["duration_ms"])
PY
}

# natdiscovery_run SHAPE I: one timed turnutils_natdiscovery -m -f; prints "seconds mapping filtering".
natdiscovery_run() {
  local out t0 t1 m f
  t0=$(date +%s.%N)
  out=$(lab_client timeout 30 turnutils_natdiscovery -m -f -p $PORT "$LAB_CLOUD_IP" 2>&1)
  t1=$(date +%s.%N)
  echo "$out" >"$LAB_DIR/natdiscovery-$1-$2.txt"
  case "$out" in
    *"Endpoint Independent Mapping"*) m=endpoint-independent ;;
    *"Address Dependent Mapping"*) m=address-dependent ;;
    *"Address and Port Dependent Mapping"*) m=address-and-port-dependent ;;
    *) m=unparsed ;;
  esac
  case "$out" in
    *"Endpoint Independent Filtering"*) f=endpoint-independent ;;
    *"Address and Port Dependent Filtering"*) f=address-and-port-dependent ;;
    *"Address Dependent Filtering"*) f=address-dependent ;;
    *) f=unparsed ;;
  esac
  echo "$(awk "BEGIN{print $t1 - $t0}") $m $f"
}

set_shape() {
  lab_router iptables -t nat -F POSTROUTING
  ip -n "$LAB_CLOUD" route del 198.18.0.0/24 2>/dev/null
  case $1 in
    masquerade) lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE ;;
    random-fully) lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully ;;
    routed) ip -n "$LAB_CLOUD" route add 198.18.0.0/24 via "$LAB_ROUTER_WAN_IP" ;;
  esac
  lab_router conntrack -F >/dev/null 2>&1
  return 0
}

status=0
fail() { echo "FAIL: $*"; status=1; }
for shape in masquerade random-fully routed; do
  case $shape in
    masquerade) want="endpoint-independent address-and-port-dependent" ;;
    random-fully) want="address-and-port-dependent address-and-port-dependent" ;;
    routed) want="endpoint-independent endpoint-independent" ;;
  esac
  set_shape "$shape"
  cr_times=() nd_times=() durations=()
  for i in $(seq "$RUNS"); do
    read -r s m f dur <<<"$(callready_run "$shape" "$i")"
    cr_times+=("$s") durations+=("$dur")
    [ "$m $f" = "$want" ] || fail "$shape run $i: callready says mapping=$m filtering=$f, expected $want"
    if ! bench_quick || [ "$shape" = masquerade ]; then
      read -r s m f <<<"$(natdiscovery_run "$shape" "$i")"
      nd_times+=("$s")
      [ "$m $f" = "$want" ] || fail "$shape run $i: turnutils_natdiscovery says mapping=$m filtering=$f, expected $want"
    fi
  done
  cr=$(printf '%s\n' "${cr_times[@]}" | median)
  echo "$shape: callready scan ${cr_times[*]} s (check ${durations[*]} ms), median $cr s;" \
    "verdict $want"
  [ ${#nd_times[@]} -gt 0 ] || continue
  nd=$(printf '%s\n' "${nd_times[@]}" | median)
  ratio=$(awk "BEGIN{printf \"%.3f\", $cr / $nd}")
  echo "$shape: turnutils_natdiscovery -m -f ${nd_times[*]} s, median $nd s; ratio $ratio (bound $BOUND)"
  if [ "$shape" = routed ] && ! bench_quick; then
    dur=$(printf '%s\n' "${durations[@]}" | median)
    echo "$shape: no silence to wait; the check itself took $dur ms (median), the peer's whole run $nd s"
    awk "BEGIN{exit !($dur / 1000 <= $nd)}" || fail "$shape: the check took $dur ms, longer than the peer's $nd s"
  else
    awk "BEGIN{exit !($ratio <= $BOUND)}" || fail "$shape: ratio $ratio > $BOUND"
  fi
  bench_quick || bench_row "RFC 5780 NAT discovery, $shape (median of $RUNS)" "$cr" "turnutils_natdiscovery -m -f" "$nd"
done
[ $status -eq 0 ] && echo "ok: identical verdicts in every shape"
exit $status
