#!/usr/bin/env bash
# The `stun` check told a closed UDP port and a firewall's REJECT from a
# silent drop, at the first ICMP error (not after the RFC 5389 schedule):
#  1. coturn on UDP 3478 in the cloud answers (the open case);
#  2. UDP 3490 has no listener in the cloud: the server's own ICMP port
#     unreachable (back through the NAT) is stun.port_closed, within 1 RTT
#     + 50 ms, one request sent, and no advice to open the firewall;
#  3. UDP 3478 REJECTed on the router: ICMP port unreachable from the
#     router is stun.rejected (a firewall on the path), just as fast;
#  4. UDP 3478 DROPped: silence, stun.no_response after the schedule.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

lab_bg "$LAB_CLOUD" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
  --listening-ip="$LAB_CLOUD_IP" --listening-port=3478 --relay-ip="$LAB_CLOUD_IP" \
  --userdb="$LAB_DIR/turndb" --pidfile="$LAB_DIR/turn.pid" --log-file="$LAB_DIR/turn.log" --no-stdout-log
lab_wait_tcp "$LAB_CLOUD_IP" 3478 || exit 1
# Ready when it answers a Binding over UDP through the NAT (its TCP listener
# comes up first; a late first answer would inflate the RTT compared below).
stun_answers() {
  lab_client python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
tid = os.urandom(12)
s.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + tid, (sys.argv[1], 3478))
sys.exit(0 if s.recv(2048)[8:20] == tid else 1)
' "$LAB_CLOUD_IP" 2>/dev/null
}
WAIT_PID=$LAB_LAST_PID wait_until 10 stun_answers || { lab_log "coturn does not answer STUN on UDP 3478"; exit 1; }

stun_scan() {  # PORT [timeout_ms]
  lab_scan stun "{\"host\": \"$LAB_CLOUD_IP\", \"port\": $1, \"nat_discovery\": false, \"timeout_ms\": ${2:-20000}}" \
    --dns-server "$LAB_DNS_IP" --timeout 40
}

LAB_FAILED=0
stun_scan 3478 || exit 1
lab_assert "$LAB_DIR/r.json" 'd["reachable"] is True and d["closed_port"] is False' "coturn answers on UDP 3478"
RTT_MS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["details"]["rtt_ms"])' "$LAB_DIR/r.json")
echo "open: coturn RTT $RTT_MS ms"

stun_scan 3490 || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["stun.port_closed"]' "a closed port, not a firewall drop"
lab_assert "$LAB_DIR/r.json" 'd["icmp"] == "ICMP port unreachable from 203.0.113.10" and d["closed_port"] is True' "the server itself answered"
lab_assert "$LAB_DIR/r.json" 'd["requests_sent"] == 1' "one request, no retransmission"
lab_assert "$LAB_DIR/r.json" "c['duration_ms'] <= $RTT_MS + 50" "ended within 1 RTT + 50 ms"
lab_assert "$LAB_DIR/r.json" '"Allow outbound" not in c["findings"][0]["remediation"]' "no advice to open the firewall"
echo "closed: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["duration_ms"])' "$LAB_DIR/r.json") ms"

reject_udp_range 3478 3478
stun_scan 3478 || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["stun.rejected"]' "a REJECT on the path"
lab_assert "$LAB_DIR/r.json" 'd["icmp"] == "ICMP port unreachable from 198.18.0.1" and d["closed_port"] is False' "the router answered, not the server"
lab_assert "$LAB_DIR/r.json" "c['duration_ms'] <= $RTT_MS + 50" "ended within 1 RTT + 50 ms"
lab_assert "$LAB_DIR/r.json" '"Allow outbound UDP 3478" in c["findings"][0]["remediation"]' "the firewall rule to add"
echo "rejected: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["duration_ms"])' "$LAB_DIR/r.json") ms"

clear_scenarios
block_udp_port 3478
stun_scan 3478 2000 || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["stun.no_response"] and d["icmp"] is None' "a DROP stays silence"
exit $LAB_FAILED
