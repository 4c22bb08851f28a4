#!/usr/bin/env bash
# The `ice` check when only a relay works: port-randomising NAT
# (MASQUERADE --random-fully: address-and-port-dependent mapping) on both
# ends, the responder behind a second router. coturn (STUN + TURN) in the
# cloud is reachable from both NATs; both agents gather its relay candidates.
#
#   client 198.18.0.2 -- router (--random-fully) 203.0.113.1 -- cloud 203.0.113.10 (coturn)
#                                                                      198.51.100.1
#   responder 198.19.0.2 -- router2 (--random-fully, TCP 7447 forwarded) 198.51.100.2
#
# Each side's server-reflexive candidate is the mapping its NAT made towards
# coturn; a check from anywhere else gets a new mapping and the far NAT drops
# what arrives there. So no direct pair can work: the nominated pair must
# include a relay candidate, `relay_required` must say so (ice.relay_required),
# and the check must be connected within 5 s. Then, as the control: the same
# two NATs without --random-fully keep one mapping per socket and a direct
# (server-reflexive) pair is found, so the relay verdict above came from the
# mapping behaviour, not from the topology.
#
# Two things the Internet does that the lab has to do too, or coturn drops
# the allocations (both seen here): the cloud's default route leads to a
# silent sink, and the routers drop unsolicited UDP on their WAN side.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

ROUTER2="cr-h15r2-$LAB_SUFFIX"
PEER="cr-h15peer-$LAB_SUFFIX"
SINK="cr-h15sink-$LAB_SUFFIX"
CLOUD_IP_B=198.51.100.1
ROUTER2_WAN_IP=198.51.100.2
ROUTER2_LAN_IP=198.19.0.1
PEER_IP=198.19.0.2
set -e
_lab_add_ns "$ROUTER2"
_lab_add_ns "$PEER"
_lab_add_ns "$SINK"
ip link add eth1 netns "$LAB_CLOUD" type veth peer name wan0 netns "$ROUTER2"
ip link add eth0 netns "$PEER" type veth peer name lan0 netns "$ROUTER2"
ip -n "$LAB_CLOUD" addr add "$CLOUD_IP_B/24" dev eth1
ip -n "$LAB_CLOUD" link set eth1 up
ip -n "$ROUTER2" addr add "$ROUTER2_WAN_IP/24" dev wan0
ip -n "$ROUTER2" addr add "$ROUTER2_LAN_IP/24" dev lan0
ip -n "$ROUTER2" link set wan0 up
ip -n "$ROUTER2" link set lan0 up
ip -n "$ROUTER2" route add default via "$CLOUD_IP_B"
ip -n "$PEER" addr add "$PEER_IP/24" dev eth0
ip -n "$PEER" link set eth0 up
ip -n "$PEER" route add default via "$ROUTER2_LAN_IP"
# The cloud routes between the two public networks (the Internet between the
# sites). Its default route leads to a sink that forwards nothing and says
# nothing, as the Internet treats private addresses: coturn closes an
# allocation whose relay socket gets ENETUNREACH (a relay check towards the
# far side's host candidate would otherwise end the session at once).
ip link add eth2 netns "$LAB_CLOUD" type veth peer name eth0 netns "$SINK"
ip -n "$LAB_CLOUD" addr add 192.0.2.1/24 dev eth2
ip -n "$LAB_CLOUD" link set eth2 up
ip -n "$SINK" addr add 192.0.2.2/24 dev eth0
ip -n "$SINK" link set eth0 up
lab_ns "$SINK" sysctl -qw net.ipv4.ip_forward=0
ip -n "$LAB_CLOUD" route add default via 192.0.2.2
lab_cloud sysctl -qw net.ipv4.ip_forward=1
ip -n "$LAB_ROUTER" route add 198.51.100.0/24 via "$LAB_CLOUD_IP"
lab_ns "$ROUTER2" sysctl -qw net.ipv4.ip_forward=1
for ns in "$ROUTER2" "$PEER"; do lab_ns "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0; done
# Only the responder's control port is forwarded: media has to find its own way.
lab_ns "$ROUTER2" iptables -t nat -A PREROUTING -i wan0 -p tcp --dport "$LAB_CONTROL_PORT" \
  -j DNAT --to-destination "$PEER_IP:$LAB_CONTROL_PORT"
set +e

# Both routers drop what arrives unasked on their WAN side, as a home router
# does. Without it, a check that reaches a NAT before its own side's check has
# left is answered with an ICMP port unreachable and leaves a conntrack entry
# that makes the NAT pick another port for that side's check: plain
# MASQUERADE would then look port-randomising, depending on who sent first.
# (Dropped in filter INPUT, the packet's conntrack entry is never confirmed.)
lab_router iptables -A INPUT -i wan0 -p udp -j DROP
lab_ns "$ROUTER2" iptables -A INPUT -i wan0 -p udp -j DROP

# nat_mode [--random-fully]: the same MASQUERADE shape on both routers, no state kept.
nat_mode() {
  lab_router iptables -t nat -F POSTROUTING
  lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE "$@"
  lab_ns "$ROUTER2" iptables -t nat -F POSTROUTING
  lab_ns "$ROUTER2" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE "$@"
  lab_router conntrack -F 2>/dev/null
  lab_ns "$ROUTER2" conntrack -F 2>/dev/null
  return 0
}

TURN="$LAB_CLOUD_IP:3478"
lab_bg "$LAB_CLOUD" turnserver -n --no-cli --no-tls --no-dtls --listening-ip="$LAB_CLOUD_IP" --listening-port=3478 \
  --relay-ip="$LAB_CLOUD_IP" --lt-cred-mech --user=alice:secret --realm=lab.test --userdb="$LAB_DIR/turndb" \
  --pidfile="$LAB_DIR/turn.pid" --log-file="$LAB_DIR/turn.log" --no-stdout-log --verbose
lab_wait_tcp "$LAB_CLOUD_IP" 3478 || exit 1
lab_bg "$PEER" "$CALLREADY" respond --listen "$PEER_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" --bind "$PEER_IP" \
  --ice --ice-stun "$TURN" --ice-turn "$TURN" --ice-turn-user alice --ice-turn-password secret
RESPONDER_LOG=$LAB_LAST_LOG
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$ROUTER2_WAN_IP" "$LAB_CONTROL_PORT" || { cat "$RESPONDER_LOG" >&2; exit 1; }

LAB_FAILED=0
R="$LAB_DIR/r.json"
with_turn="\"stun\": \"$TURN\", \"turn\": \"$TURN\", \"turn_username\": \"alice\", \"turn_password\": \"secret\""
ice() {
  lab_scan ice "{$with_turn}" --responder "$ROUTER2_WAN_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" --timeout 30 -q ||
    { echo "FAIL: no report"; LAB_FAILED=1; }
}
said() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["summary"], "- check", c["duration_ms"], "ms")' "$R"; }
uses_relay='d["selected_pair"] is not None and "relay" in (d["selected_pair"]["local_type"], d["selected_pair"]["remote_type"])'

# --- 1: --random-fully on both NATs: only the relay works -----------------------
nat_mode --random-fully
ice
lab_assert "$R" 'd["candidates"].get("srflx", 0) >= 1 and d["remote_candidates"].get("srflx", 0) >= 1 and d["remote_candidates"].get("relay", 0) >= 1' \
  "both sides gathered server-reflexive and relay candidates"
lab_assert "$R" "$uses_relay" "random-fully on both ends: the nominated pair includes a relay candidate"
lab_assert "$R" 'd["relay_required"] is True and any(f["code"] == "ice.relay_required" for f in c["findings"]) and c["status"] == "warn"' \
  "relay required, reported (ice.relay_required, warn)"
lab_assert "$R" 'd["connected_ms"] < 5000 and c["duration_ms"] < 5000 and d["probes"]["echoed"] == 5' \
  "connected (and the whole check done) within 5 s, probes echoed over the relay"
echo "random-fully: $(said)"

# --- 2: the control: the same sites, NATs that keep their mappings ---------------
nat_mode
ice
lab_assert "$R" 'd["selected_pair"] is not None and "relay" not in (d["selected_pair"]["local_type"], d["selected_pair"]["remote_type"]) and d["relay_required"] is False and c["status"] == "pass"' \
  "plain MASQUERADE on both ends: a direct pair, no relay"
echo "MASQUERADE: $(said)"

if [ "$LAB_FAILED" != 0 ]; then
  echo "--- turnserver log (last lines)"
  tail -40 "$LAB_DIR"/turn*.log 2>/dev/null
  echo "--- responder log (last lines)"
  tail -20 "$RESPONDER_LOG"
fi
exit "$LAB_FAILED"
