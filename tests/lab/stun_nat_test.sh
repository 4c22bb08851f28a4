#!/usr/bin/env bash
# The `stun` check through a real NAT (client -- router MASQUERADE -- cloud):
#  1. mapped_address is the router's WAN address and nat is true;
#  2. the RFC 5780 behaviour it reports agrees with coturn's own
#     turnutils_natdiscovery -m -f run in the same lab (for MASQUERADE:
#     endpoint-independent mapping, address-and-port-dependent filtering);
#  3. the same against `callready respond --alt-address` instead of coturn;
#  4. with --random-fully the mapping turns address-and-port-dependent, and
#     again both tools agree; routed without NAT, both say
#     endpoint-independent for both;
#  5. with UDP 5004 dropped on the router, STUN 5004 fails (critical, names
#     UDP 5004) while 9000 still passes, and 5004's silence is waited out
#     from the RTT 9000's answer measured (max(4 x RTT, 250 ms)), as is a
#     STUN-over-TCP connect to a DROPped TCP 5004;
#  6. with --responder naming it, the check asks the responder first: a STUN
#     port it does not serve is a set-up error, not a firewall finding, and
#     a wrong token too.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

# coturn with RFC 5780 in the cloud, one instance per port (LAB.md).
start_coturn() {
  local port=$1
  lab_bg "$LAB_CLOUD" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    --listening-ip="$LAB_CLOUD_IP" --listening-ip="$LAB_CLOUD_IP2" --listening-port="$port" \
    --alt-listening-port=$((port + 1)) --relay-ip="$LAB_CLOUD_IP" --userdb="$LAB_DIR/turndb-$port" \
    --pidfile="$LAB_DIR/turn-$port.pid" --log-file="$LAB_DIR/turn-$port.log" --no-stdout-log
  lab_wait_tcp "$LAB_CLOUD_IP" "$port" || exit 1
}
start_coturn 5004
start_coturn 9000

# Our own RFC 5780 server on 3478 (+3479), primary .10, alternate .11.
lab_start_responder --bind "$LAB_CLOUD_IP" --alt-address "$LAB_CLOUD_IP2" --stun-ports 3478 || exit 1

stun_profile() {  # FILE then one "port:transport" per check
  local file=$1 first=1 spec
  shift
  {
    echo '{"name": "lab-stun", "description": "lab", "variables": {}, "checks": ['
    for spec in "$@"; do
      [ $first -eq 1 ] || echo ','
      first=0
      echo "{\"id\": \"stun-${spec/:/-}\", \"kind\": \"stun\", \"category\": \"media\", \"severity\": \"critical\","
      echo " \"params\": {\"host\": \"$LAB_CLOUD_IP\", \"port\": ${spec%%:*}, \"transport\": \"${spec##*:}\", \"timeout_ms\": 20000},"
      echo " \"requirement\": {\"text\": \"lab\", \"source\": \"tests/lab\"}}"
    done
    echo ']}'
  } >"$file"
}

scan() {  # PROFILE REPORT [extra scan arguments]
  local profile=$1 report=$2
  shift 2
  lab_client "$CALLREADY" scan --profile "$profile" --timeout 40 -q -o "$report" --dns-server "$LAB_DNS_IP" "$@"
  [ -s "$report" ] || { echo "FAIL: no report $report"; LAB_FAILED=1; return 1; }
}

# natdiscovery's words -> ours. Prints "mapping filtering".
natdiscovery() {
  local out
  out=$(lab_client timeout 30 turnutils_natdiscovery -m -f -p "$1" "$LAB_CLOUD_IP" 2>&1)
  echo "$out" >"$LAB_DIR/natdiscovery-$1-$2.txt"
  local m f
  case "$out" in
    *"Endpoint Independent Mapping"*) m=endpoint-independent ;;
    *"Address Dependent Mapping"*) m=address-dependent ;;
    *"Address and Port Dependent Mapping"*) m=address-and-port-dependent ;;
    *) m=unparsed ;;
  esac
  case "$out" in
    *"Endpoint Independent Filtering"*) f=endpoint-independent ;;
    *"Address and Port Dependent Filtering"*) f=address-and-port-dependent ;;
    *"Address Dependent Filtering"*) f=address-dependent ;;
    *) f=unparsed ;;
  esac
  echo "$m $f"
}

LAB_FAILED=0
P="$LAB_DIR/p.json"
R="$LAB_DIR/r.json"

# --- 1 + 2: coturn through MASQUERADE -----------------------------------------
stun_profile "$P" 5004:udp
scan "$P" "$R"
lab_assert "$R" 'd["reachable"] is True' "STUN 5004/udp answers through the NAT"
lab_assert "$R" 'd["nat"] is True and d["mapped_address"].startswith("203.0.113.1:")' "mapped_address is the router's WAN address, nat true"
lab_assert "$R" 'd["local_address"].startswith("198.18.0.2:")' "local_address is the client's LAN address"
lab_assert "$R" 'd["alg_suspected"] is False' "no ALG on a plain MASQUERADE"
lab_assert "$R" 'd["other_address"] == "203.0.113.11:5005"' "OTHER-ADDRESS from coturn"
nd_start=$(date +%s.%N)
read -r nd_map nd_filter <<<"$(natdiscovery 5004 masquerade)"
nd_seconds=$(echo "$(date +%s.%N) - $nd_start" | bc)
echo "turnutils_natdiscovery (MASQUERADE): mapping=$nd_map filtering=$nd_filter in ${nd_seconds}s;" \
  "callready stun check (same RFC 5780 tests + reachability): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["duration_ms"])' "$R") ms"
lab_assert "$R" "d['mapping_behavior'] == '$nd_map' == 'endpoint-independent'" "mapping agrees with turnutils_natdiscovery"
lab_assert "$R" "d['filtering_behavior'] == '$nd_filter' == 'address-and-port-dependent'" "filtering agrees with turnutils_natdiscovery"

# --- 3: our responder's STUN service, same NAT ---------------------------------
# The lab responder has a token, so it answers only authenticated STUN: the
# scan names it (--responder) and carries the token.
stun_profile "$P" 3478:udp 3478:tcp
scan "$P" "$R" --responder "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN"
lab_assert "$R" 'd["reachable"] and d["software"] == "callready" and d["mapped_address"].startswith("203.0.113.1:")' "callready respond answers through the NAT"
lab_assert "$R" 'd["mapping_behavior"] == "endpoint-independent" and d["filtering_behavior"] == "address-and-port-dependent"' "the responder gives the same RFC 5780 result as coturn"
lab_assert "$R" 'r["checks"][1]["details"]["reachable"] is True and r["checks"][1]["details"]["nat"] is True' "STUN over TCP through the NAT"
lab_assert "$R" 'all(c["status"] == "pass" for c in r["checks"])' "with --responder: both STUN checks pass through the NAT"
# Without the token (a scan that does not know it is our responder) nothing answers: no open reflector.
scan "$P" "$R"
lab_assert "$R" 'd["reachable"] is False' "unauthenticated STUN gets no answer from a responder with a token"

# --- 4: --random-fully: port-randomising NAT ----------------------------------
lab_router iptables -t nat -F POSTROUTING
lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully
lab_router conntrack -F 2>/dev/null
stun_profile "$P" 5004:udp
scan "$P" "$R"
read -r nd_map nd_filter <<<"$(natdiscovery 5004 random-fully)"
echo "turnutils_natdiscovery (--random-fully): mapping=$nd_map filtering=$nd_filter"
lab_assert "$R" "d['mapping_behavior'] == '$nd_map' == 'address-and-port-dependent'" "random-fully: mapping agrees with turnutils_natdiscovery"
lab_assert "$R" 'any(f["code"] == "stun.nat_mapping_dependent" for f in c["findings"])' "a port-dependent mapping is a finding"
lab_router iptables -t nat -F POSTROUTING
lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
lab_router conntrack -F 2>/dev/null

# --- 4b: routed, no NAT: the cloud routes back to the LAN ----------------------
lab_router iptables -t nat -F POSTROUTING
lab_router conntrack -F 2>/dev/null
ip -n "$LAB_CLOUD" route add 198.18.0.0/24 via "$LAB_ROUTER_WAN_IP"
stun_profile "$P" 5004:udp
scan "$P" "$R"
read -r nd_map nd_filter <<<"$(natdiscovery 5004 routed)"
echo "turnutils_natdiscovery (routed): mapping=$nd_map filtering=$nd_filter"
lab_assert "$R" 'd["nat"] is False and d["mapped_address"] == d["local_address"]' "routed: no NAT"
lab_assert "$R" "d['mapping_behavior'] == '$nd_map' == 'endpoint-independent'" "routed: mapping agrees with turnutils_natdiscovery"
lab_assert "$R" "d['filtering_behavior'] == '$nd_filter' == 'endpoint-independent'" "routed: filtering agrees with turnutils_natdiscovery"
ip -n "$LAB_CLOUD" route del 198.18.0.0/24 via "$LAB_ROUTER_WAN_IP"
lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
lab_router conntrack -F 2>/dev/null

# --- 5: UDP 5004 blocked: 5004 fails, 9000 passes ------------------------------
block_udp_port 5004
drop_tcp_port 5004
stun_profile "$P" 5004:udp 9000:udp 5004:tcp
sed -i 's/"timeout_ms": 20000/"timeout_ms": 6000/' "$P"
scan "$P" "$R"
lab_assert "$R" 'r["checks"][0]["details"]["reachable"] is False' "STUN 5004/udp fails when UDP 5004 is dropped"
lab_assert "$R" 'any(f["code"] == "stun.no_response" and f["severity"] == "critical" and "UDP 5004" in f["remediation"] for f in r["checks"][0]["findings"])' "critical finding naming UDP 5004"
lab_assert "$R" 'r["checks"][0]["status"] == "fail"' "the 5004 check fails"
lab_assert "$R" 'r["checks"][1]["details"]["reachable"] is True and r["checks"][1]["status"] != "fail"' "STUN 9000/udp still passes"
# 9000's answer is an RTT to the same address: 5004's silence is waited out
# for max(4 x RTT, 250 ms) from it (net::path_rtt), not the 6 s budget.
lab_assert "$R" 'r["checks"][0]["details"]["wait_basis"] == "rtt" and abs(r["checks"][0]["details"]["wait_ms"] - max(250, 4 * r["checks"][0]["details"]["path_rtt_ms"])) <= 2' "the drop is called after max(4 x RTT, 250 ms), from 9000's RTT"
lab_assert "$R" 'r["checks"][0]["duration_ms"] < 1500' "the dropped port is given up in well under the 6 s budget"
lab_assert "$R" 'r["checks"][2]["details"]["reachable"] is False and r["checks"][2]["details"]["wait_basis"] == "rtt" and r["checks"][2]["duration_ms"] < 1500' "STUN over a DROPped TCP 5004: the connect is given up from the path's RTT too"
lab_assert "$R" 'any(f["code"] == "stun.tcp_connect_failed" for f in r["checks"][2]["findings"])' "the dropped TCP port is a connect failure"
clear_scenarios

# --- 6: the responder's set-up, not the firewall ------------------------------
stun_profile "$P" 3490:udp
scan "$P" "$R" --responder "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN"
lab_assert "$R" 'c["status"] == "error" and c["error"]["reason"] == "setup" and c["error"]["operation"] == "control" and not c["findings"]' "an unserved STUN port is a set-up error"
stun_profile "$P" 3478:udp
scan "$P" "$R" --responder "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" --token wrong-token
lab_assert "$R" 'c["status"] == "error" and c["error"]["reason"] == "setup" and "token" in c["error"]["message"]' "a wrong token is a set-up error"

exit "$LAB_FAILED"
