# shellcheck shell=bash
# The namespace lab (client - NAT router - cloud). Source it from a lab test:
#
#   . "$SOURCE_DIR/tests/lab/lib.sh"
#   lab_require_root            # exit 77 (skip) unless root with netns support
#   trap lab_cleanup EXIT       # always: removes every namespace, file and process
#   lab_up                      # client -- router (NAT) -- cloud
#   lab_start_responder --udp-ports 20000-20199 --token "$LAB_TOKEN"
#   drop_udp_range 20050 20099
#   lab_client "$CALLREADY" scan --profile p.json -o report.json
#
#   client  198.18.0.2/24  2001:db8:1::2/64     (eth0)
#   router  198.18.0.1     2001:db8:1::1        (lan0)   NAT (MASQUERADE) to wan0
#           203.0.113.1    2001:db8:2::1        (wan0)
#   cloud   203.0.113.10, 203.0.113.11, 2001:db8:2::10 (eth0); no route back to
#           198.18/15, so IPv4 replies only work through the NAT.
#
# Namespace names carry the PID (and a random part, in case a killed run left
# its namespaces behind under a PID now reused) so parallel tests never
# collide; fixed ports are fine inside them. Only the lab ranges of
# DEVELOPERS.md are used; nothing leaves the namespaces.

. "${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/support/lib.sh"
LAB_SUFFIX="${LAB_SUFFIX:-$$-$RANDOM}"
LAB_CLIENT="cr-client-$LAB_SUFFIX"
LAB_ROUTER="cr-router-$LAB_SUFFIX"
LAB_CLOUD="cr-cloud-$LAB_SUFFIX"
LAB_CLIENT_IP=198.18.0.2
LAB_ROUTER_LAN_IP=198.18.0.1
LAB_ROUTER_WAN_IP=203.0.113.1
LAB_CLOUD_IP=203.0.113.10
LAB_CLOUD_IP2=203.0.113.11
LAB_CLIENT_IP6=2001:db8:1::2
LAB_CLOUD_IP6=2001:db8:2::10
LAB_DNS_IP=$LAB_CLOUD_IP
LAB_CONTROL_PORT=7447
LAB_TOKEN="${LAB_TOKEN:-lab-token-$LAB_SUFFIX}"
LAB_NAMESPACES=()
LAB_PIDS=()
LAB_DIR=""

lab_log() { echo "lab: $*" >&2; }

# Skips the test (exit 77) with a clear reason when the lab cannot run here.
lab_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: lab tests build network namespaces and need root (run as root, as CI does)"
    exit 77
  fi
  local tool
  for tool in ip iptables ip6tables; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
  done
  if [ -z "${CALLREADY:-}" ] || [ ! -x "$CALLREADY" ]; then
    echo "FAIL: CALLREADY must name the built binary" >&2
    exit 1
  fi
}

lab_ns() { ip netns exec "$@"; }
lab_client() { ip netns exec "$LAB_CLIENT" "$@"; }
lab_router() { ip netns exec "$LAB_ROUTER" "$@"; }
lab_cloud() { ip netns exec "$LAB_CLOUD" "$@"; }

_lab_add_ns() {
  ip netns add "$1" || return 1
  LAB_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

lab_up() {
  local had_e=$-
  set -e  # any failure here is fatal; the EXIT trap tears down what exists
  LAB_DIR="$(mktemp -d /tmp/callready-lab.XXXXXX)"
  _lab_add_ns "$LAB_CLIENT"
  _lab_add_ns "$LAB_ROUTER"
  _lab_add_ns "$LAB_CLOUD"
  ip link add eth0 netns "$LAB_CLIENT" type veth peer name lan0 netns "$LAB_ROUTER"
  ip link add wan0 netns "$LAB_ROUTER" type veth peer name eth0 netns "$LAB_CLOUD"

  ip -n "$LAB_CLIENT" addr add "$LAB_CLIENT_IP/24" dev eth0
  ip -n "$LAB_CLIENT" addr add "$LAB_CLIENT_IP6/64" dev eth0 nodad
  ip -n "$LAB_CLIENT" link set eth0 up
  ip -n "$LAB_CLIENT" route add default via "$LAB_ROUTER_LAN_IP"
  ip -n "$LAB_CLIENT" -6 route add default via 2001:db8:1::1

  ip -n "$LAB_ROUTER" addr add "$LAB_ROUTER_LAN_IP/24" dev lan0
  ip -n "$LAB_ROUTER" addr add 2001:db8:1::1/64 dev lan0 nodad
  ip -n "$LAB_ROUTER" addr add "$LAB_ROUTER_WAN_IP/24" dev wan0
  ip -n "$LAB_ROUTER" addr add 2001:db8:2::1/64 dev wan0 nodad
  ip -n "$LAB_ROUTER" link set lan0 up
  ip -n "$LAB_ROUTER" link set wan0 up
  lab_router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  lab_router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE

  ip -n "$LAB_CLOUD" addr add "$LAB_CLOUD_IP/24" dev eth0
  ip -n "$LAB_CLOUD" addr add "$LAB_CLOUD_IP2/24" dev eth0
  ip -n "$LAB_CLOUD" addr add "$LAB_CLOUD_IP6/64" dev eth0 nodad
  ip -n "$LAB_CLOUD" link set eth0 up
  ip -n "$LAB_CLOUD" -6 route add 2001:db8:1::/64 via 2001:db8:2::1

  # Deterministic ICMP: the default rate limit answers only a few of many probes.
  local ns
  for ns in "$LAB_CLIENT" "$LAB_ROUTER" "$LAB_CLOUD"; do
    lab_ns "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
  done

  # A program in a namespace still reads the host's resolv.conf: point it at the lab.
  mkdir -p "/etc/netns/$LAB_CLIENT"
  echo "nameserver $LAB_DNS_IP" >"/etc/netns/$LAB_CLIENT/resolv.conf"
  [[ $had_e == *e* ]] || set +e
  lab_log "up: $LAB_CLIENT -- $LAB_ROUTER (NAT) -- $LAB_CLOUD, files in $LAB_DIR"
}

# Starts a long-running program in namespace $1 (rest: the command), logging to
# $LAB_DIR/<name>.log; its PID is tracked for cleanup and left in LAB_LAST_PID.
lab_bg() {
  local ns="$1" name
  shift
  name="$(basename "$1")-${#LAB_PIDS[@]}"
  ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 &
  LAB_LAST_PID=$!
  LAB_LAST_LOG="$LAB_DIR/$name.log"
  LAB_PIDS+=("$LAB_LAST_PID")
}

# Waits (10 s at most) until TCP $2 on address $1 accepts from the client
# namespace (through the NAT). With WAIT_PID set, gives up once that process died.
lab_wait_tcp() {
  wait_until 10 lab_client timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
  lab_log "nothing accepts on $1:$2"
  return 1
}

# `callready respond` in the cloud on 203.0.113.10, control port 7447, with the lab token.
lab_start_responder() {
  lab_bg "$LAB_CLOUD" "$CALLREADY" respond --listen "$LAB_CLOUD_IP:$LAB_CONTROL_PORT" --token "$LAB_TOKEN" "$@"
  LAB_RESPONDER_PID=$LAB_LAST_PID
  LAB_RESPONDER_LOG=$LAB_LAST_LOG
  # The responder opens its control port last, once every service is up.
  WAIT_PID=$LAB_RESPONDER_PID lab_wait_tcp "$LAB_CLOUD_IP" "$LAB_CONTROL_PORT" ||
    { cat "$LAB_RESPONDER_LOG" >&2; return 1; }
}

# squid (Debian squid-openssl) on the router. The mode lines (http_port ...,
# http_access ..., ssl-bump ...) come on stdin; logs, pid file, no cache and
# no DNS are added here. Files the mode needs (a CA, an htpasswd) go in
# $LAB_DIR/squid first, which this hands to the proxy user. Waits until port
# $1 on the router's LAN address accepts from the client.
lab_start_squid() {
  local dir="$LAB_DIR/squid"
  mkdir -p "$dir"
  {
    cat
    cat <<CONF
cache deny all
dns_nameservers 127.0.0.1
visible_hostname lab-router
pid_filename $dir/squid.pid
cache_log $dir/cache.log
access_log $dir/access.log
coredump_dir $dir
shutdown_lifetime 0 seconds
cache_effective_user proxy
CONF
  } >"$dir/squid.conf"
  chown -R proxy:proxy "$dir"
  chmod 755 "$LAB_DIR"
  lab_bg "$LAB_ROUTER" squid -N -f "$dir/squid.conf"
  WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$LAB_ROUTER_LAN_IP" "$1" || { cat "$dir/cache.log" "$LAB_LAST_LOG" >&2; return 1; }
}

# dnsmasq as the authoritative server for example.test on 203.0.113.10:53;
# arguments are extra config lines, e.g. "host-record=responder.example.test,203.0.113.10".
lab_start_dns() {
  local conf="$LAB_DIR/dnsmasq.conf" line
  {
    echo "no-resolv"
    echo "no-hosts"
    echo "bind-interfaces"
    echo "listen-address=$LAB_DNS_IP"
    echo "auth-server=ns1.example.test,$LAB_DNS_IP"
    echo "auth-zone=example.test,203.0.113.0/24,2001:db8:2::/64"
    echo "local=/example.test/"
    for line in "$@"; do echo "$line"; done
  } >"$conf"
  lab_bg "$LAB_CLOUD" dnsmasq --keep-in-foreground --conf-file="$conf" --pid-file="$LAB_DIR/dnsmasq.pid" --user=root
  # Ready when it answers a query from the client side, through the lab.
  WAIT_PID=$LAB_LAST_PID wait_until 5 lab_client bash -c "$(declare -f dns_answers); dns_answers $LAB_DNS_IP 53 example.test" ||
    { lab_log "dnsmasq does not answer on $LAB_DNS_IP:53"; cat "$LAB_LAST_LOG" >&2; return 1; }
}

# --- scenario switches: firewall shapes on the router, LAN -> WAN ------------
drop_udp_range() { lab_router iptables -A FORWARD -i lan0 -p udp --dport "$1:$2" -j DROP; }
reject_udp_range() {
  lab_router iptables -A FORWARD -i lan0 -p udp --dport "$1:$2" -j REJECT --reject-with icmp-port-unreachable
}
block_udp_port() { drop_udp_range "$1" "$1"; }
drop_tcp_port() { lab_router iptables -A FORWARD -i lan0 -p tcp --dport "$1" -j DROP; }
# Random loss in both directions on the path (-m statistic; netem is not available).
random_loss() {
  lab_router iptables -A FORWARD -m statistic --mode random --probability "$1" -j DROP
  lab_router ip6tables -A FORWARD -m statistic --mode random --probability "$1" -j DROP
}
set_wan_mtu() {
  ip -n "$LAB_ROUTER" link set wan0 mtu "$1"
  ip -n "$LAB_CLOUD" link set eth0 mtu "$1"
  ip -n "$LAB_CLIENT" route flush cache
}
remark_dscp() { lab_router iptables -t mangle -A FORWARD -o wan0 -p udp --dport "$1" -j DSCP --set-dscp "${2:-0}"; }
clear_scenarios() {
  lab_router iptables -F FORWARD
  lab_router ip6tables -F FORWARD
  lab_router iptables -t mangle -F
}

# --- running and asserting ----------------------------------------------------
# Writes a one-check profile: lab_profile FILE KIND PARAMS_JSON
lab_profile() {
  cat >"$1" <<JSON
{"name": "lab-$2", "description": "lab test", "variables": {},
 "checks": [{"id": "$2", "kind": "$2", "category": "media", "severity": "critical",
             "params": $3, "requirement": {"text": "lab", "source": "tests/lab"}}]}
JSON
}

# Runs a one-check scan from the client namespace: lab_scan KIND PARAMS_JSON [scan options...].
# The report is $LAB_DIR/r.json; fails (printing the scan's output) when none was written.
lab_scan() {
  local kind="$1" params="$2"
  shift 2
  lab_profile "$LAB_DIR/p.json" "$kind" "$params"
  rm -f "$LAB_DIR/r.json"
  lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" -o "$LAB_DIR/r.json" "$@" >"$LAB_DIR/scan.out" 2>&1
  [ -s "$LAB_DIR/r.json" ] || { cat "$LAB_DIR/scan.out" >&2; return 1; }
}

# Asserts a Python expression over the JSON report: lab_assert REPORT 'expr' [message]
# `r` is the report, `c` its first check, `d` that check's details.
lab_assert() {
  if ! python3 - "$1" "$2" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
c = r["checks"][0]
d = c.get("details", {})
ok = eval(sys.argv[2])
if not ok:
    print("ASSERTION FAILED: " + sys.argv[2], file=sys.stderr)
    print(json.dumps(c, indent=1)[:4000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
    LAB_FAILED=1
    return 1
  fi
  echo "ok: ${3:-$2}"
}

_lab_gone() { ! kill -0 "$1" 2>/dev/null; }
lab_cleanup() {
  local rc=$? pid ns
  for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${LAB_PIDS[@]}"; do
    wait_until 3 _lab_gone "$pid"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${LAB_NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
    [ "$rc" -ne 0 ] && [ -n "${LAB_KEEP_LOGS:-}" ] && { lab_log "logs kept in $LAB_DIR"; return; }
    rm -rf "$LAB_DIR"
  fi
}
