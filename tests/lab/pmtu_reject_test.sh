#!/usr/bin/env bash
# pmtu toward a UDP port a router REJECTs: the first ICMP port unreachable
# (from the router, not the server) ends the search at once with
# pmtu.rejected, instead of waiting out three probe timeouts and an ICMP
# hint probe (5 s) to report "no echo reply".
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20400 || exit 1
reject_udp_range 20400 20400

LAB_FAILED=0
lab_scan pmtu '{"host": "203.0.113.10", "port": 20400}' --token "$LAB_TOKEN" || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["pmtu.rejected"]' "rejected on the path"
lab_assert "$LAB_DIR/r.json" 'd["rejected_by"] == "ICMP port unreachable from 198.18.0.1"' "by the router"
lab_assert "$LAB_DIR/r.json" 'd["probes_sent"] == 1 and d["path_mtu"] is None'
lab_assert "$LAB_DIR/r.json" 'c["duration_ms"] < 1000' "ended at the ICMP error (before: 5 s of timeouts)"
echo "rejected after $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["duration_ms"])' "$LAB_DIR/r.json") ms"
exit $LAB_FAILED
