#!/usr/bin/env bash
# A REJECTed range is reported rejected (ICMP port unreachable from the
# router), a DROPped one blocked, the rest open; findings name each range.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20000-20199 || exit 1
reject_udp_range 20100 20149
block_udp_port 20010

PARAMS='{"host": "203.0.113.10", "ports": ["20000-20099", "20100-20199"], "max_pps": 1000}'
lab_scan udp_range "$PARAMS" --token "$LAB_TOKEN" || exit 1

LAB_FAILED=0
lab_assert "$LAB_DIR/r.json" 'd["rejected"] == ["20100-20149"]'
lab_assert "$LAB_DIR/r.json" 'd["blocked"] == ["20010"]'
lab_assert "$LAB_DIR/r.json" 'd["open"] == ["20000-20009", "20011-20099", "20150-20199"]'
lab_assert "$LAB_DIR/r.json" 'all(x["icmp"] == "ICMP port unreachable from 198.18.0.1" for x in d["rejected_by"]) and len(d["rejected_by"]) == 50' "rejected by the router (its LAN address), not the server"
lab_assert "$LAB_DIR/r.json" 'sorted(f["code"] for f in c["findings"]) == ["udp_range.blocked", "udp_range.rejected"]'
lab_assert "$LAB_DIR/r.json" 'any("20100-20149" in f["message"] for f in c["findings"] if f["code"] == "udp_range.rejected")'
exit $LAB_FAILED
