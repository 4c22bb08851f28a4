#!/usr/bin/env bash
# `nat_timeout` against a responder that cannot take part: every case is a
# `setup` error, never a binding reported "expired".
#  1. the responder does not serve the UDP port (no --udp-ports);
#  2. a wrong token;
#  3. the responder is restarted while the bindings are idle: its pending
#     deferred replies are gone; the canary (a binding the client keeps busy,
#     asking for the same delays) proves it, so nothing is called expired.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up || exit 1

LAB_FAILED=0
R="$LAB_DIR/r.json"
PARAMS="{\"host\": \"$LAB_CLOUD_IP\", \"max_s\": 8, \"ladder\": [4, 8], \"udp_port\": 20000, \"tcp_port\": 8443,
         \"reply_wait_ms\": 1000, \"timeout_ms\": 30000}"
scan() { lab_scan nat_timeout "$PARAMS" --timeout 40 --dns-server "$LAB_DNS_IP" --responder "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" "$@"; }
NO_EXPIRED='not any(r["outcome"] == "expired" for k in ("udp", "udp_single", "tcp") if d.get(k) for r in d[k].get("rungs", []))'

# --- 1: no UDP echo on the responder ------------------------------------------
lab_start_responder --tcp-ports 8443 || exit 1
scan --token "$LAB_TOKEN" || exit 1
lab_assert "$R" 'c["status"] == "error" and c["error"]["reason"] == "setup" and c["error"]["operation"] == "control" and "udp_echo" in c["error"]["message"] and not c["findings"]' \
  "a responder without the UDP echo port is a set-up error"

# --- 2: wrong token -------------------------------------------------------------
scan --token wrong-token || exit 1
lab_assert "$R" 'c["status"] == "error" and c["error"]["reason"] == "setup" and "token" in c["error"]["message"]' \
  "a wrong token is a set-up error"
kill "$LAB_RESPONDER_PID"
wait "$LAB_RESPONDER_PID" 2>/dev/null

# --- 3: restarted mid-test --------------------------------------------------------
lab_start_responder --udp-ports 20000 --tcp-ports 8443 || exit 1
scan --token "$LAB_TOKEN" &
SCAN=$!
# The moment of the restart in the test's schedule (not a wait for readiness):
# after the warm-up (2.5 s), while every binding waits for its deferred reply.
sleep 3.5
kill "$LAB_RESPONDER_PID"
wait "$LAB_RESPONDER_PID" 2>/dev/null
lab_start_responder --udp-ports 20000 --tcp-ports 8443 || exit 1
wait "$SCAN" || { echo "FAIL: no report"; exit 1; }
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["status"], c.get("error"))' "$R"
lab_assert "$R" 'c["status"] == "error" and c["error"]["reason"] == "setup" and not c["findings"]' \
  "a responder restarted mid-test is a set-up error"
lab_assert "$R" "$NO_EXPIRED" "and no binding is reported expired"

exit "$LAB_FAILED"
