#!/usr/bin/env bash
# The media_path ladder's last rung through an explicit proxy: squid on the
# NAT router, the router forwarding nothing from the LAN to the media ports
# (UDP 5004/9000, TCP 5004 and 443 dropped), so only the proxy reaches the
# responder, as in an office that lets only its proxy out. The responder runs
# STUN on the UDP media ports, as the Webex profiles start it:
#   nothing dropped                 -> UDP (STUN Binding answered);
#   HTTPS_PROXY=squid:3128          -> TLS 443 through the proxy is the path,
#                                      every direct rung's reason kept;
#   proxy param squid:3132 (denied) -> no path, the proxy refused with 403.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v squid >/dev/null || { echo "SKIP: squid not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up
# As the Webex profiles run it: STUN (not the echo) on the UDP media ports.
lab_start_responder --stun-ports 5004,9000 --tls-ports 443 || exit 1

SQ="$LAB_DIR/squid"
mkdir -p "$SQ"
cat >"$SQ/squid.conf" <<CONF
http_port $LAB_ROUTER_LAN_IP:3128
http_port $LAB_ROUTER_LAN_IP:3132
acl denyport localport 3132
http_access deny denyport
http_access allow all
cache deny all
dns_nameservers 127.0.0.1
visible_hostname lab-router
pid_filename $SQ/squid.pid
cache_log $SQ/cache.log
access_log $SQ/access.log
coredump_dir $SQ
shutdown_lifetime 0 seconds
cache_effective_user proxy
CONF
chown -R proxy:proxy "$SQ"
chmod 755 "$LAB_DIR"
lab_bg "$LAB_ROUTER" squid -N -f "$SQ/squid.conf"
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$LAB_ROUTER_LAN_IP" 3132 || { cat "$SQ/cache.log" "$LAB_LAST_LOG" >&2; exit 1; }

LAB_FAILED=0
R="$LAB_DIR/r.json"

scan() { # scan PARAMS_JSON [ENV...]
  local params="$1"
  shift
  lab_profile "$LAB_DIR/p.json" media_path "$params"
  rm -f "$R"
  lab_client env -u HTTPS_PROXY -u https_proxy -u NO_PROXY -u no_proxy "$@" \
    "$CALLREADY" scan --profile "$LAB_DIR/p.json" --token "$LAB_TOKEN" -o "$R" >"$LAB_DIR/scan.out" 2>&1
  [ -s "$R" ] || { cat "$LAB_DIR/scan.out" >&2; exit 1; }
}

scan "{\"host\": \"$LAB_CLOUD_IP\"}"
lab_assert "$R" 'd["path"] == "udp" and d["attempts"][0]["probe"] == "stun" and c["status"] == "pass"' \
  "nothing dropped: UDP answered over STUN, no proxy rung"

drop_udp_range 5004 5004
drop_udp_range 9000 9000
drop_tcp_port 5004
drop_tcp_port 443
scan "{\"host\": \"$LAB_CLOUD_IP\"}" HTTPS_PROXY="http://$LAB_ROUTER_LAN_IP:3128"
lab_assert "$R" 'd["path"] == "tls" and c["status"] == "warn" and c["findings"][0]["code"] == "media_path.tls_fallback"' \
  "HTTPS_PROXY: TLS through the proxy is the path, degraded"
lab_assert "$R" '[(a["transport"], a["result"], a.get("proxy")) for a in d["attempts"]] == [("udp", "timeout", None), ("udp", "timeout", None), ("tcp", "timeout", None), ("tls", "timeout", None), ("tls", "ok", "http://198.18.0.1:3128")] and d["attempts"][0]["probe"] == "stun" and d["attempts"][-1]["proxy_status"] == 200' \
  "HTTPS_PROXY: every direct rung timed out, the proxied one answered"
lab_assert "$R" 'd["proxy_source"] == "HTTPS_PROXY" and "through the proxy" in c["findings"][0]["message"] and c["duration_ms"] < 15000' \
  "HTTPS_PROXY: the proxy and where it came from named"

scan "{\"host\": \"$LAB_CLOUD_IP\", \"proxy\": \"http://$LAB_ROUTER_LAN_IP:3132\"}"
lab_assert "$R" 'd["path"] is None and c["status"] == "fail" and c["findings"][0]["code"] == "media_path.no_path"' \
  "denying proxy: no path"
lab_assert "$R" 'd["attempts"][-1]["result"] == "proxy_refused" and d["attempts"][-1]["proxy_status"] == 403 and "HTTP 403" in c["findings"][0]["message"]' \
  "denying proxy: refused with 403, named"

exit "$LAB_FAILED"
