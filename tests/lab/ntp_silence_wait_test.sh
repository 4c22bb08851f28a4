#!/usr/bin/env bash
# Issue 18, against the real path: the router DROPs NTP (UDP 123) to the
# cloud host while a tcp check of the same scan connects to that host (the
# responder's control port). The ntp check gives up after max(4 x RTT,
# 250 ms) from the RTT the tcp check measured to the same address (the
# lab's: the 250 ms floor), not after the 2.5 s meant for an unknown path,
# even when the RTT is recorded while its wait already runs. Verdict
# unchanged: ntp.silent.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up || exit 1
lab_start_responder || exit 1
drop_udp_range 123 123

cat >"$LAB_DIR/p.json" <<JSON
{"name": "lab-ntp-silence", "description": "lab test", "variables": {},
 "checks": [{"id": "tcp", "kind": "tcp", "category": "signalling", "severity": "critical",
             "params": {"host": "$LAB_CLOUD_IP", "port": $LAB_CONTROL_PORT},
             "requirement": {"text": "lab", "source": "tests/lab"}},
            {"id": "ntp", "kind": "ntp", "category": "time", "severity": "critical",
             "params": {"host": "$LAB_CLOUD_IP"},
             "requirement": {"text": "lab", "source": "tests/lab"}}]}
JSON
lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" -o "$LAB_DIR/r.json" >"$LAB_DIR/scan.out" 2>&1
[ -s "$LAB_DIR/r.json" ] || { cat "$LAB_DIR/scan.out"; exit 1; }

LAB_FAILED=0
N='[x for x in r["checks"] if x["id"] == "ntp"][0]'
T='[x for x in r["checks"] if x["id"] == "tcp"][0]'
lab_assert "$LAB_DIR/r.json" "$T['details']['connected'] is True" "the tcp check reached the host"
lab_assert "$LAB_DIR/r.json" "[f['code'] for f in $N['findings']] == ['ntp.silent']" "the DROP is ntp.silent"
lab_assert "$LAB_DIR/r.json" "$N['details']['wait_basis'] == 'rtt'" "silence waited out from the path's RTT"
lab_assert "$LAB_DIR/r.json" "$N['details']['wait_ms'] == 250" "for the 250 ms floor, not 2500 ms"
lab_assert "$LAB_DIR/r.json" "0 < $N['details']['path_rtt_ms'] < 50" "the RTT the tcp check measured"
lab_assert "$LAB_DIR/r.json" "$N['details']['requests_sent'] == 2" "a second request halfway"
lab_assert "$LAB_DIR/r.json" "$N['duration_ms'] < 1500" "the check took under 1.5 s"
exit $LAB_FAILED
