#!/usr/bin/env bash
# udp_range by name through the lab DNS (the client's netns resolv.conf), and
# over IPv6 (routed, no NAT): the responder sees the client's own address.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_dns "host-record=responder.example.test,$LAB_CLOUD_IP,$LAB_CLOUD_IP6"
# The control port on both families: the IPv6 sweep asks the responder over IPv6.
lab_bg "$LAB_CLOUD" "$CALLREADY" respond --listen "[::]:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" --udp-ports 20000-20049
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$LAB_CLOUD_IP" "$LAB_CONTROL_PORT" || { cat "$LAB_LAST_LOG" >&2; exit 1; }
block_udp_port 20007

LAB_FAILED=0
lab_scan udp_range '{"host": "responder.example.test", "ports": "20000-20049", "max_pps": 1000}' \
  --token "$LAB_TOKEN" || exit 1
lab_assert "$LAB_DIR/r.json" 'd["address"] == "203.0.113.10" and d["host"] == "responder.example.test"' "resolved through the lab DNS"
lab_assert "$LAB_DIR/r.json" 'd["open"] == ["20000-20006", "20008-20049"] and d["blocked"] == ["20007"]'

# The IPv4-only firewall rule does not apply to IPv6; its own rule does.
lab_router ip6tables -A FORWARD -i lan0 -p udp --dport 20040:20049 -j DROP
lab_scan udp_range '{"host": "2001:db8:2::10", "ports": "20000-20049", "max_pps": 1000, "reply_wait_ms": 200}' \
  --token "$LAB_TOKEN" || exit 1
lab_assert "$LAB_DIR/r.json" 'd["open"] == ["20000-20039"] and d["blocked"] == ["20040-20049"] and d["rejected"] == []'
lab_assert "$LAB_DIR/r.json" 'd["observed_source"].startswith("[2001:db8:1::2]:")' "no NAT on IPv6"
lab_assert "$LAB_DIR/r.json" 'd["control"] == "ok"' "the responder answered over IPv6"
exit $LAB_FAILED
