#!/usr/bin/env bash
# Path MTU over IPv6 (routed, no NAT) with the WAN link at 1400, against the
# kernel's own ICMPv6 (issue 20, defect 8: an IPv6 path named "ICMP
# Fragmentation Needed", a message IPv6 does not have):
#  1. the router answers big packets with ICMPv6 Packet Too Big: path_mtu
#     1400, as tracepath -6 reports in the same run, and the summary says
#     "ICMPv6 Packet Too Big seen", never "Fragmentation Needed";
#  2. the router drops its own Packet Too Big (OUTPUT and FORWARD): a black
#     hole at 1400 whose finding says no ICMPv6 Packet Too Big comes back.
set -u
LAB_SUFFIX="a3-$$-$RANDOM"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v tracepath >/dev/null || { echo "SKIP: tracepath not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1
# The control port on both families: a check aimed at an IPv6 address asks the responder there.
lab_bg "$LAB_CLOUD" "$CALLREADY" respond --listen "[::]:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" --udp-ports 20400
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$LAB_CLOUD_IP" "$LAB_CONTROL_PORT" || { cat "$LAB_LAST_LOG" >&2; exit 1; }
set_wan_mtu 1400

pmtu_scan() {
  lab_client ip -6 route flush cache
  lab_scan pmtu "{\"host\": \"$LAB_CLOUD_IP6\", \"port\": 20400}" --token "$LAB_TOKEN" --timeout 40
}
summary() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][0]["summary"])' "$LAB_DIR/r.json"; }

LAB_FAILED=0
pmtu_scan || exit 1
lab_client ip -6 route flush cache
tp=$(lab_client timeout 30 tracepath -6 -n "$LAB_CLOUD_IP6" | sed -n 's/.*pmtu \([0-9]*\).*/\1/p' | tail -1)
echo "IPv6, WAN MTU 1400: callready \"$(summary)\"; tracepath -6 pmtu=${tp:-none}"
[ "$tp" = 1400 ] || { echo "tracepath -6 disagrees with the link MTU: ${tp:-none}"; LAB_FAILED=1; }
lab_assert "$LAB_DIR/r.json" 'd["address"] == "2001:db8:2::10" and d["method"] == "responder"' "measured over IPv6 with the responder"
lab_assert "$LAB_DIR/r.json" 'd["path_mtu"] == 1400 and d["icmp_seen"] is True and d["icmp_mtu"] == 1400'
lab_assert "$LAB_DIR/r.json" '"ICMPv6 Packet Too Big seen" in c["summary"]' "the summary names ICMPv6 Packet Too Big"
lab_assert "$LAB_DIR/r.json" '"Fragmentation Needed" not in json.dumps(c)' "Fragmentation Needed is said nowhere"

for chain in OUTPUT FORWARD; do
  lab_router ip6tables -A "$chain" -p icmpv6 --icmpv6-type packet-too-big -j DROP
done
pmtu_scan || exit 1
echo "IPv6 black hole at 1400: callready \"$(summary)\""
lab_assert "$LAB_DIR/r.json" 'd["path_mtu"] == 1400 and d["black_hole"] is True and d["icmp_seen"] is False'
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]][:1] == ["pmtu.black_hole"]'
lab_assert "$LAB_DIR/r.json" '"no ICMPv6 Packet Too Big comes back" in c["findings"][0]["message"]' "the black hole names ICMPv6 Packet Too Big"
lab_assert "$LAB_DIR/r.json" '"Fragmentation Needed" not in c["findings"][0]["message"] + c["summary"]'
exit $LAB_FAILED
