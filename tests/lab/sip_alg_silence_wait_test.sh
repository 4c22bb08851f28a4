#!/usr/bin/env bash
# Issue 18, against the real path: the router DROPs SIP (UDP 5060) towards a
# responder that serves it. The check's control-port connect measured the RTT
# to that address, so each unanswered request is given up after
# max(4 x RTT, 250 ms) (the lab's RTT is well under a millisecond: the
# 250 ms floor), not after timeout_ms_per_request (1.5 s). Verdict unchanged:
# sip_alg.no_answer.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up || exit 1
lab_start_responder --sip-ports 5060 --bind "$LAB_CLOUD_IP" || exit 1
drop_udp_range 5060 5060

params='{"host": "'"$LAB_CLOUD_IP"'", "port": 5060, "transport": "udp", "timeout_ms_per_request": 1500}'
lab_scan sip_alg "$params" --token "$LAB_TOKEN" || exit 1

LAB_FAILED=0
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["sip_alg.no_answer"]' "the DROP is sip_alg.no_answer"
lab_assert "$LAB_DIR/r.json" 'len(d["attempts"]) == 4' "INVITE and REGISTER from 5060 and from an ephemeral port"
lab_assert "$LAB_DIR/r.json" 'all(a["outcome"] == "no_response" for a in d["attempts"])' "every request went unanswered"
lab_assert "$LAB_DIR/r.json" 'all(a["wait_basis"] == "rtt" for a in d["attempts"])' "each waited from the path's RTT"
# The lab's RTT gives the 250 ms floor; a loaded machine may measure more.
lab_assert "$LAB_DIR/r.json" 'all(abs(a["wait_ms"] - max(250, 4 * a["path_rtt_ms"])) <= 2 for a in d["attempts"])' "max(4 x RTT, 250 ms)"
lab_assert "$LAB_DIR/r.json" 'all(0 < a["path_rtt_ms"] < 100 for a in d["attempts"])' "the RTT the control port measured"
# Two methods one after the other per socket, both sockets at once: 2 x 250 ms
# plus the control exchange; with the timeout it was 2 x 1500 ms.
lab_assert "$LAB_DIR/r.json" 'c["duration_ms"] < 2 * 400 + 700' "the check took well under 2 x 1500 ms"
lab_assert "$LAB_DIR/r.json" '"within %d ms" % d["attempts"][0]["wait_ms"] in c["findings"][0]["message"]' "the finding says how long it waited"
exit $LAB_FAILED
