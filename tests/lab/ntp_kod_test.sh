#!/usr/bin/env bash
# The `ntp` check against ntpsec's ntpd (a real server that sends
# kiss-o'-death packets; chrony 4.3 never does) in the cloud namespace:
#  1. first contact: ntpd has no time source, so it answers stratum 0 with
#     the kiss code INIT ("not yet synchronised"): reported as kiss INIT;
#  2. after a burst of requests from the same (NAT) address, ntpd's rate
#     limit (`restrict default limited kod`; ntpsec scores each source,
#     1 request/s over 20 s) answers RATE: reported as ntp.kiss_of_death RATE.
# ntpd runs without CAP_SYS_TIME (setpriv), so it cannot touch the clock.
# Debian's ntpsec package conflicts with chrony (both provide time-daemon) and
# starts a daemon, so only its ntpd binary is used: NTPSEC_NTPD, else the copy
# scripts/install-deps.sh extracts, else an ntpd on PATH that is ntpsec's.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
NTPD="${NTPSEC_NTPD:-/usr/local/lib/callready-lab/ntpsec/usr/sbin/ntpd}"
if [ ! -x "$NTPD" ]; then
  NTPD=$(command -v ntpd || true)
  [ -n "$NTPD" ] && "$NTPD" --version 2>/dev/null | grep -q ntpsec || NTPD=""
fi
[ -n "$NTPD" ] || { echo "SKIP: ntpsec's ntpd not found (NTPSEC_NTPD, or scripts/install-deps.sh)"; exit 77; }
if ldd "$NTPD" 2>/dev/null | grep -q "not found"; then
  echo "SKIP: $NTPD misses libraries: $(ldd "$NTPD" | grep "not found" | tr -s ' \t\n' ' ')"
  exit 77
fi
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

cat >"$LAB_DIR/ntp.conf" <<CONF
restrict default limited kod nomodify noquery
CONF
# No CAP_SYS_TIME anywhere in its tree: ntpd's kernel-loop set-up fails (it
# logs EPERM) and it can never step or slew the machine's clock.
lab_bg "$LAB_CLOUD" setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
  "$NTPD" -n -c "$LAB_DIR/ntp.conf" -p "$LAB_DIR/ntpd.pid" -l "$LAB_DIR/ntpd.log" -I "$LAB_CLOUD_IP"
NTPD_PID=$LAB_LAST_PID

# ntp_ask ADDRESS COUNT GAP_S: COUNT client-mode requests from one socket,
# GAP_S apart, 0.5 s wait each; prints the kiss codes (or "time"/"none") seen.
ntp_ask() {
  lab_client python3 - "$@" <<'PY'
import os, socket, sys, time
addr, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
seen = []
for _ in range(count):
    req = bytearray(48)
    req[0] = (4 << 3) | 3
    req[40:48] = os.urandom(8)
    s.sendto(req, (addr, 123))
    try:
        d, _ = s.recvfrom(512)
        ok = len(d) >= 48 and d[24:32] == bytes(req[40:48])
        seen.append(d[12:16].decode("ascii", "replace") if ok and d[1] == 0 else "time" if ok else "bad")
    except socket.timeout:
        seen.append("none")
    time.sleep(gap)
print(" ".join(seen))
PY
}
answered() { [ "$(ntp_ask "$LAB_CLOUD_IP" 1 0)" != none ]; }
WAIT_PID=$NTPD_PID wait_until 10 answered || { lab_log "ntpd does not answer"; cat "$LAB_DIR"/*.log >&2; exit 1; }
# The precondition of the whole test: this ntpd cannot set the clock.
if grep -q '^CapBnd' "/proc/$NTPD_PID/status" &&
  (($(printf '%d' "0x$(awk '/^CapBnd/ {print $2}' "/proc/$NTPD_PID/status")") & (1 << 25))); then
  echo "FAIL: ntpd kept CAP_SYS_TIME"
  exit 1
fi

ntp_scan() {
  lab_scan ntp "{\"host\": \"$LAB_CLOUD_IP\"}" --dns-server "$LAB_DNS_IP" --timeout 20
}
LAB_FAILED=0
ntp_scan || exit 1
lab_assert "$LAB_DIR/r.json" "d['outcome'] == 'kiss' and d['kiss_code'] == 'INIT' and d['requests_sent'] == 1" \
  "an unsynchronised ntpd answers INIT, and the check stops asking"

BURST=$(ntp_ask "$LAB_CLOUD_IP" 22 0.02)
echo "burst of 22: $BURST"
ntp_scan || exit 1
lab_assert "$LAB_DIR/r.json" "d['outcome'] == 'kiss' and d['kiss_code'] == 'RATE'" "rate-limited: kiss-o'-death RATE"
lab_assert "$LAB_DIR/r.json" "[f['code'] for f in c['findings'] if f['code'] == 'ntp.kiss_of_death'] == ['ntp.kiss_of_death']" "ntp.kiss_of_death reported"
lab_assert "$LAB_DIR/r.json" "'RATE' in [f for f in c['findings'] if f['code'] == 'ntp.kiss_of_death'][0]['message']" "the finding names RATE"
lab_assert "$LAB_DIR/r.json" "d['requests_sent'] == 1" "no request after the kiss-o'-death (RFC 5905 7.4)"
grep -q "ntp_adjtime: Operation not permitted" "$LAB_DIR/ntpd.log" && echo "ok: ntpd was refused the clock (EPERM logged)"
exit $LAB_FAILED
