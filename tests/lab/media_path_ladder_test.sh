#!/usr/bin/env bash
# The media_path ladder through the NAT router, the rungs taken away one by
# one at the router (iptables FORWARD, LAN -> WAN): untouched -> UDP; UDP
# 5004 and 9000 dropped -> TCP 5004, within 10 s; TCP 5004 dropped too ->
# TLS 443; everything dropped -> no path (critical), each attempt with its
# reason; and the REJECT shapes (ICMP port unreachable for UDP, a TCP reset
# for TCP 5004) named as such, not as timeouts.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 5004,9000 --tcp-ports 5004 --tls-ports 443 || exit 1
LAB_FAILED=0
PARAMS="{\"host\": \"$LAB_CLOUD_IP\", \"proxy\": \"direct\"}"
R="$LAB_DIR/r.json"

ladder() { # ladder NAME: runs the scan and prints how long it took
  local start=$SECONDS
  lab_scan media_path "$PARAMS" --token "$LAB_TOKEN" || { LAB_FAILED=1; return 1; }
  echo "$1: $((SECONDS - start)) s"
}

ladder untouched
lab_assert "$R" 'd["path"] == "udp" and c["status"] == "pass" and not c["findings"]' "untouched: UDP is the path"
lab_assert "$R" '[a["transport"] for a in d["attempts"]] == ["udp", "udp"]' "untouched: the ladder stopped at UDP"

drop_udp_range 5004 5004
drop_udp_range 9000 9000
ladder udp-dropped
lab_assert "$R" 'd["path"] == "tcp" and c["status"] == "warn"' "UDP dropped: TCP 5004 is the path, degraded"
lab_assert "$R" '[(a["transport"], a["port"], a["result"]) for a in d["attempts"]] == [("udp", 5004, "timeout"), ("udp", 9000, "timeout"), ("tcp", 5004, "ok")]' \
  "UDP dropped: each UDP port timed out"
lab_assert "$R" 'c["findings"][0]["code"] == "media_path.tcp_fallback" and c["duration_ms"] < 10000' \
  "UDP dropped: tcp_fallback within 10 s"

drop_tcp_port 5004
ladder tcp-dropped
lab_assert "$R" 'd["path"] == "tls" and c["status"] == "warn"' "UDP and TCP 5004 dropped: TLS 443 is the path"
lab_assert "$R" '[a["result"] for a in d["attempts"]] == ["timeout", "timeout", "timeout", "ok"] and d["attempts"][2]["operation"] == "connect"' \
  "UDP and TCP 5004 dropped: TCP's connect timed out"
lab_assert "$R" 'c["findings"][0]["code"] == "media_path.tls_fallback"' "UDP and TCP 5004 dropped: tls_fallback"

drop_tcp_port 443
ladder all-dropped
lab_assert "$R" 'd["path"] is None and c["status"] == "fail"' "everything dropped: no path"
lab_assert "$R" '[(a["transport"], a["result"]) for a in d["attempts"]] == [("udp", "timeout"), ("udp", "timeout"), ("tcp", "timeout"), ("tls", "timeout")]' \
  "everything dropped: every rung's reason"
lab_assert "$R" 'c["findings"][0]["code"] == "media_path.no_path" and c["findings"][0]["severity"] == "critical" and c["duration_ms"] < 15000' \
  "everything dropped: critical, within the check's timeout"

clear_scenarios
reject_udp_range 5004 5004
reject_udp_range 9000 9000
lab_router iptables -A FORWARD -i lan0 -p tcp --dport 5004 -j REJECT --reject-with tcp-reset
ladder rejected
lab_assert "$R" '[(a["transport"], a["result"]) for a in d["attempts"]] == [("udp", "unreachable"), ("udp", "unreachable"), ("tcp", "refused"), ("tls", "ok")]' \
  "REJECTs: ICMP unreachable and refused named, TLS is the path"
lab_assert "$R" "'$LAB_ROUTER_LAN_IP' in d['attempts'][0]['detail'] and c['duration_ms'] < 3000" \
  "REJECTs: the router named as the ICMP sender, no waiting"

exit "$LAB_FAILED"
