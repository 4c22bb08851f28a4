#!/usr/bin/env bash
# A DROPped sub-range is reported blocked exactly, and nothing else is; the
# responder saw the client through the NAT (203.0.113.1).
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20000-20199 || exit 1
drop_udp_range 20050 20099

PARAMS='{"host": "203.0.113.10", "ports": "20000-20199", "max_pps": 1000}'
lab_scan udp_range "$PARAMS" --token "$LAB_TOKEN" || exit 1

LAB_FAILED=0
lab_assert "$LAB_DIR/r.json" 'd["ports_tested"] == 200'
lab_assert "$LAB_DIR/r.json" 'd["blocked"] == ["20050-20099"]'
lab_assert "$LAB_DIR/r.json" 'd["open"] == ["20000-20049", "20100-20199"]'
lab_assert "$LAB_DIR/r.json" 'd["rejected"] == []'
lab_assert "$LAB_DIR/r.json" 'd["control"] == "ok"'
lab_assert "$LAB_DIR/r.json" 'd["observed_source"].startswith("203.0.113.1:")' "the responder saw the NAT address"
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["udp_range.blocked"]'
lab_assert "$LAB_DIR/r.json" '"20050-20099" in c["findings"][0]["message"] and c["findings"][0]["severity"] == "critical"'
lab_assert "$LAB_DIR/r.json" 'c["findings"][0]["remediation"].startswith("Allow outbound UDP to 203.0.113.10 ports 20050-20099")'
lab_assert "$LAB_DIR/r.json" 'c["status"] != "pass"'
# One log line for the session, not one per packet (written at shutdown).
kill -TERM "$LAB_RESPONDER_PID"; wait "$LAB_RESPONDER_PID"
n=$(grep -c "udp-echo session" "$LAB_RESPONDER_LOG")
[ "$n" -eq 1 ] && echo "ok: one session log line" || { echo "expected 1 session line, got $n"; cat "$LAB_RESPONDER_LOG"; LAB_FAILED=1; }
exit $LAB_FAILED
