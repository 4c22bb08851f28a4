#!/usr/bin/env bash
# The `ntp` check against chrony (real NTP servers) in the cloud namespace,
# with ntpsec's ntpdig as the comparison client in the same run:
#  1. chronyd (local stratum 8) on 203.0.113.10:123: answered, stratum 8,
#     offset within 1 ms of what `ntpdig -j` measured a moment later;
#     the same server over IPv6 (routed, no NAT) answers too;
#  2. a second chronyd on 203.0.113.11:123 whose clock runs 5 s ahead
#     (libfaketime; -x: neither instance touches the system clock): the check
#     reports ~+5000 ms and ntp.offset, ntpdig agrees within 1 ms;
#  3. UDP 124 on the server, where nothing listens: ntp.port_closed;
#  4. UDP 123 REJECTed on the router: ntp.rejected, from the router, at once;
#  5. UDP 123 DROPped on the router: ntp.silent within 3 s;
#  6. chronyd with `ratelimit interval 4 burst 1 leak 4` on UDP 1123: chrony
#     4.3 sends no kiss-o'-death, it drops the limited requests: the check
#     still answers with the one sample it got (a KoD is unit-tested);
#  7. chronyd denying the NAT address on UDP 2123: chrony answers nothing (no DENY
#     kiss-o'-death either): ntp.silent.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
for tool in chronyd ntpdig; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
# libfaketime preloaded straight into chronyd (not the `faketime` wrapper,
# which forks: cleanup kills the tracked PID, and that must be chronyd's).
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FAKETIME_LIB" ] || { echo "SKIP: libfaketime not installed (faketime, scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

# chrony_start NAME ADDRESS PORT [extra config line] [command prefix...]
chrony_start() {
  local name="$1" address="$2" port="$3" extra="$4"
  shift 4
  cat >"$LAB_DIR/$name.conf" <<CONF
local stratum 8
allow all
bindaddress $address
port $port
cmdport 0
pidfile $LAB_DIR/$name.pid
driftfile $LAB_DIR/$name.drift
$extra
CONF
  lab_bg "$LAB_CLOUD" "$@" chronyd -d -x -f "$LAB_DIR/$name.conf"
}
chrony_start plain "$LAB_CLOUD_IP" 123 "bindaddress $LAB_CLOUD_IP6"
chrony_start ahead "$LAB_CLOUD_IP2" 123 "" env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+5s"
chrony_start limited "$LAB_CLOUD_IP" 1123 "ratelimit interval 4 burst 1 leak 4"
chrony_start denied "$LAB_CLOUD_IP" 2123 "deny $LAB_ROUTER_WAN_IP"

# Readiness: ntpdig gets an answer (chronyd answers as soon as it listens).
for address in "$LAB_CLOUD_IP" "$LAB_CLOUD_IP2"; do
  wait_until 10 lab_client timeout 3 ntpdig -t 1 "$address" >/dev/null 2>&1 ||
    { lab_log "chronyd on $address does not answer"; cat "$LAB_DIR"/*.log >&2; exit 1; }
done

ntp_scan() {  # HOST [PORT]
  lab_scan ntp "{\"host\": \"$1\", \"port\": ${2:-123}}" --dns-server "$LAB_DNS_IP" --timeout 30
}
# ntpdig's offset in ms (its JSON "offset" is in seconds). One ntpdig run is
# one sample (with -p it keeps the first, not the least delayed), and a
# sample's error is bounded by half its delay: on a busy machine a late
# wake-up adds milliseconds. So, like our check, take the best of 4 runs:
# the lowest "precision", which is ntpdig's synchronisation distance (half
# the delay plus dispersion).
ntpdig_offset_ms() {
  local i
  for i in 1 2 3 4; do lab_client timeout 5 ntpdig -j -t 2 "$1"; echo; done |
    python3 -c 'import json,sys; rs=[json.loads(l) for l in sys.stdin if l.strip()]; print(min(rs, key=lambda r: r["precision"])["offset"] * 1000)'
}
value() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["details"][sys.argv[2]])' "$LAB_DIR/r.json" "$1"; }
duration() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["duration_ms"])' "$LAB_DIR/r.json"; }
not_info='[f["code"] for f in c["findings"] if f["severity"] != "info"]'

LAB_FAILED=0
ntp_scan "$LAB_CLOUD_IP" || exit 1
OURS=$(value offset_ms)
THEIRS=$(ntpdig_offset_ms "$LAB_CLOUD_IP")
echo "plain: callready offset $OURS ms, delay $(value delay_ms) ms; ntpdig offset $THEIRS ms"
lab_assert "$LAB_DIR/r.json" "d['outcome'] == 'answered' and d['reachable'] is True and d['stratum'] == 8" "chrony answered at stratum 8"
lab_assert "$LAB_DIR/r.json" "$not_info == [] and c['status'] == 'pass'" "no finding beyond info"
lab_assert "$LAB_DIR/r.json" "len(d['samples']) == 4 and sum(s['kept'] for s in d['samples']) == 1" "4 samples, one kept"
lab_assert "$LAB_DIR/r.json" "abs(d['offset_ms'] - ($THEIRS)) < 1.0" "offset agrees with ntpdig within 1 ms"

ntp_scan "$LAB_CLOUD_IP6" || exit 1
lab_assert "$LAB_DIR/r.json" "d['outcome'] == 'answered' and d['address'] == '$LAB_CLOUD_IP6' and d['stratum'] == 8" "chrony answered over IPv6"

ntp_scan "$LAB_CLOUD_IP2" || exit 1
OURS=$(value offset_ms)
THEIRS=$(ntpdig_offset_ms "$LAB_CLOUD_IP2")
echo "ahead: callready offset $OURS ms; ntpdig offset $THEIRS ms"
lab_assert "$LAB_DIR/r.json" "abs(d['offset_ms'] - 5000) < 50" "a clock 5 s ahead reads ~+5000 ms"
lab_assert "$LAB_DIR/r.json" "abs(d['offset_ms'] - ($THEIRS)) < 1.0" "offset agrees with ntpdig within 1 ms"
lab_assert "$LAB_DIR/r.json" "'ntp.offset' in [f['code'] for f in c['findings']]" "ntp.offset reported"

ntp_scan "$LAB_CLOUD_IP" 124 || exit 1
lab_assert "$LAB_DIR/r.json" "$not_info == ['ntp.port_closed'] and d['closed_port'] is True" "nothing listens on UDP 124: closed port"
lab_assert "$LAB_DIR/r.json" "d['icmp'] == 'ICMP port unreachable from $LAB_CLOUD_IP'" "the server itself answered"

ntp_scan "$LAB_CLOUD_IP" 1123 || exit 1
echo "rate-limited: $(value requests_sent) requests, replies: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["checks"][0]["details"]["samples"]))' "$LAB_DIR/r.json")"
lab_assert "$LAB_DIR/r.json" "d['outcome'] == 'answered' and d['kiss_code'] is None" "chrony's rate limit sends no KoD"
lab_assert "$LAB_DIR/r.json" "len(d['samples']) < d['requests_sent']" "chrony dropped the limited requests"

ntp_scan "$LAB_CLOUD_IP" 2123 || exit 1
lab_assert "$LAB_DIR/r.json" "$not_info == ['ntp.silent'] and d['icmp'] is None" "chrony's deny answers nothing"

reject_udp_range 123 123
ntp_scan "$LAB_CLOUD_IP" || exit 1
echo "rejected: $(duration) ms"
lab_assert "$LAB_DIR/r.json" "$not_info == ['ntp.rejected'] and d['outcome'] == 'rejected'" "REJECT on the path"
lab_assert "$LAB_DIR/r.json" "d['icmp'] == 'ICMP port unreachable from $LAB_ROUTER_LAN_IP' and d['requests_sent'] == 1" "the router answered the first request"
lab_assert "$LAB_DIR/r.json" "c['duration_ms'] < 500" "reported at once"

clear_scenarios
block_udp_port 123
ntp_scan "$LAB_CLOUD_IP" || exit 1
echo "dropped: $(duration) ms"
lab_assert "$LAB_DIR/r.json" "$not_info == ['ntp.silent'] and d['icmp'] is None and d['outcome'] == 'silent'" "DROP is silence"
lab_assert "$LAB_DIR/r.json" "c['duration_ms'] <= 3000" "silence reported within 3 s"
exit $LAB_FAILED
