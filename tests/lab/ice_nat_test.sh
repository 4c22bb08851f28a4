#!/usr/bin/env bash
# The `ice` check through a real NAT. coturn (STUN + TURN on one port,
# long-term credentials) and the responder (--ice) run in the cloud:
#
#   client 198.18.0.2 -- router (MASQUERADE) 203.0.113.1 -- cloud 203.0.113.10
#
#  1. plain MASQUERADE: a srflx-to-host pair over UDP, no relay, connected
#     within 2 s; gathering is quick although STUN and TURN share a server;
#  2. relay_only: the pair runs through coturn and is reported as a relay;
#  3. UDP dropped at the client's router, ice_tcp: the TCP pair is what works,
#     named as such (ice.tcp_pair), within 10 s;
#  4. a dead TURN server: gathering ends at its cap and the finding names it;
#     wrong TURN credentials: ice.turn_unauthorized, fast, not a timeout.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

TURN="$LAB_CLOUD_IP:3478"
lab_bg "$LAB_CLOUD" turnserver -n --no-cli --no-tls --no-dtls --listening-ip="$LAB_CLOUD_IP" --listening-port=3478 \
  --relay-ip="$LAB_CLOUD_IP" --lt-cred-mech --user=alice:secret --realm=lab.test --userdb="$LAB_DIR/turndb" \
  --pidfile="$LAB_DIR/turn.pid" --log-file="$LAB_DIR/turn.log" --no-stdout-log
lab_wait_tcp "$LAB_CLOUD_IP" 3478 || exit 1
lab_start_responder --bind "$LAB_CLOUD_IP" --ice --ice-stun "$TURN" --ice-turn "$TURN" --ice-turn-user alice \
  --ice-turn-password secret || exit 1

LAB_FAILED=0
R="$LAB_DIR/r.json"
ice() {  # RESPONDER_IP PARAMS_JSON
  lab_scan ice "$2" --responder "$1:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" --timeout 30 -q ||
    { echo "FAIL: no report"; LAB_FAILED=1; }
}
with_turn="\"stun\": \"$TURN\", \"turn\": \"$TURN\", \"turn_username\": \"alice\", \"turn_password\": \"secret\""

# --- 1: MASQUERADE, responder in the cloud ------------------------------------
ice "$LAB_CLOUD_IP" "{$with_turn}"
lab_assert "$R" 'd["selected_pair"]["local_type"] == "srflx" and d["selected_pair"]["remote_type"] == "host"' "MASQUERADE: srflx-to-host pair"
lab_assert "$R" 'd["selected_pair"]["transport"] == "udp" and d["relay_required"] is False and c["status"] == "pass"' "no relay, over UDP, pass"
lab_assert "$R" 'd["connected_ms"] < 2000' "connected within 2 s"
lab_assert "$R" 'd["candidates"]["relay"] >= 1 and d["turn_check"]["allocate"] == "allocated" and d["probes"]["echoed"] == 5' "relay gathered, TURN allocated, probes echoed"
echo "MASQUERADE: $(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["summary"], "- check", c["duration_ms"], "ms")' "$R")"

# --- 2: relay_only: the relay path itself -------------------------------------
ice "$LAB_CLOUD_IP" "{$with_turn, \"relay_only\": true}"
lab_assert "$R" 'd["selected_pair"]["local_type"] == "relay" and d["relay_required"] is True' "relay_only: a relay pair, relay_required reported"
lab_assert "$R" 'c["status"] == "pass" and d["probes"]["echoed"] == 5' "relay_only asked for it: no warning, probes echoed over the relay"
lab_assert "$R" 'c["duration_ms"] < 5000' "within 5 s"
echo "relay_only: $(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["summary"], "- check", c["duration_ms"], "ms")' "$R")"

# --- 3: UDP blocked at the client's router: ICE-TCP ----------------------------
lab_router iptables -A FORWARD -i lan0 -p udp -j DROP
ice "$LAB_CLOUD_IP" "{\"stun\": \"$TURN\", \"ice_tcp\": true, \"gather_cap_ms\": 2000}"
lab_assert "$R" 'd["selected_pair"] is not None and d["selected_pair"]["transport"] == "tcp"' "UDP blocked: the TCP pair works"
lab_assert "$R" 'any(f["code"] == "ice.tcp_pair" for f in c["findings"])' "named as such (ice.tcp_pair)"
lab_assert "$R" 'c["duration_ms"] < 10000' "within 10 s"
echo "UDP blocked: $(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["summary"], "- check", c["duration_ms"], "ms")' "$R")"
clear_scenarios

# --- 4: a dead TURN server, wrong TURN credentials -----------------------------
DEAD="$LAB_CLOUD_IP2:3479"  # nothing listens there
ice "$LAB_CLOUD_IP" "{\"stun\": \"$TURN\", \"turn\": \"$DEAD\", \"turn_username\": \"alice\", \"turn_password\": \"secret\", \"gather_cap_ms\": 2000}"
lab_assert "$R" 'd["gathering_ms"] <= 2600 and d["turn_check"]["allocate"] == "unreachable"' "dead TURN: gathering ends at its 2 s cap"
lab_assert "$R" 'any(f["code"] == "ice.turn_unreachable" and "203.0.113.11:3479" in f["message"] for f in c["findings"])' "the finding names the dead TURN server"
lab_assert "$R" 'd["selected_pair"] is not None' "the direct path is still found"
ice "$LAB_CLOUD_IP" "{\"stun\": \"$TURN\", \"turn\": \"$TURN\", \"turn_username\": \"alice\", \"turn_password\": \"wrong\"}"
lab_assert "$R" 'any(f["code"] == "ice.turn_unauthorized" for f in c["findings"]) and d["turn_check"]["error_code"] == 401' "wrong TURN credentials: 401 named"
lab_assert "$R" 'd["gathering_ms"] < 1000 and not any(f["code"] == "ice.turn_unreachable" for f in c["findings"])' "not a timeout"

exit "$LAB_FAILED"
