# shellcheck shell=bash
# Shared by the exporter's shell tests and bench: loopback peers (a real
# dnsmasq, a TCP listener), a DNS+TCP module, and the exporter itself on a
# kernel-picked port. Every child is tracked by PID and killed on exit.
: "${CALLREADY:?}"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
. "$SOURCE_DIR/tests/support/lib.sh"
EXP_DIR=$(mktemp -d)
EXP_PIDS=()
exp_cleanup() {
  for p in "${EXP_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${EXP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$EXP_DIR"
}
trap exp_cleanup EXIT

# exp_dnsmasq: dnsmasq on a free UDP port serving site.test names; sets DNS_PORT.
exp_dnsmasq() {
  local attempt pid
  for attempt in 1 2 3 4 5; do
    DNS_PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
      --listen-address=127.0.0.1 --port="$DNS_PORT" --pid-file="$EXP_DIR/dnsmasq.pid" --user=root \
      --local=/site.test/ --dns-forward-max=1000 --host-record=sbc.site.test,127.0.0.1 \
      2>"$EXP_DIR/dnsmasq.log" &
    pid=$!
    if WAIT_PID=$pid wait_until 5 dns_answers 127.0.0.1 "$DNS_PORT" sbc.site.test; then
      EXP_PIDS+=("$pid")
      return 0
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    grep -qi "in use" "$EXP_DIR/dnsmasq.log" || break
  done
  echo "FAIL: dnsmasq does not answer"; cat "$EXP_DIR/dnsmasq.log"; return 1
}

# exp_tcp_listener: accepts and closes, bounded to 10 minutes; sets TCP_PORT.
exp_tcp_listener() {
  python3 - "$EXP_DIR/tcp_port" <<'PY' &
import os, socket, sys, time, select
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1024)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end = time.time() + 600
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        c, _ = s.accept(); c.close()
PY
  EXP_PIDS+=($!)
  WAIT_PID=$! wait_until 5 test -s "$EXP_DIR/tcp_port" || { echo "FAIL: the TCP listener did not start"; return 1; }
  TCP_PORT=$(cat "$EXP_DIR/tcp_port")
}

# exp_module DIR: a loopback-only DNS+TCP module "site-basic" in DIR: the
# target is a host name dnsmasq answers, the port a variable.
exp_module() {
  mkdir -p "$1"
  cat >"$1/site-basic.json" <<JSON
{"name": "site-basic", "description": "DNS + TCP on loopback (exporter tests)",
 "variables": {"target": {"default": null, "description": "host name of the site's SBC"},
               "port": {"default": "$TCP_PORT", "description": "TCP port"}},
 "checks": [
  {"id": "dns-a", "kind": "dns", "category": "dns", "params": {"name": "\${target}", "type": "A"},
   "severity": "critical", "requirement": {"text": "test: the SBC name resolves", "source": "exporter test (no seed)"}},
  {"id": "tcp-sbc", "kind": "tcp", "category": "signaling", "params": {"host": "\${target}", "port": "\${port}"},
   "severity": "critical", "requirement": {"text": "test: the SBC accepts TCP", "source": "exporter test (no seed)"}}
 ]}
JSON
}

# exp_start ARGS...: the exporter on 127.0.0.1:<kernel's pick>; sets EXP_PID and EXP_URL.
exp_start() {
  "$CALLREADY" exporter --listen 127.0.0.1:0 "$@" 2>"$EXP_DIR/exporter.log" &
  EXP_PID=$!
  EXP_PIDS+=("$EXP_PID")
  WAIT_PID=$EXP_PID wait_until 10 grep -q "listening on" "$EXP_DIR/exporter.log" || {
    echo "FAIL: the exporter did not start"; cat "$EXP_DIR/exporter.log"; return 1
  }
  local addr
  addr=$(sed -n 's/.*listening on \([^ ]*\) (\(http[s]*\)).*/\2:\/\/\1/p' "$EXP_DIR/exporter.log" | head -1)
  EXP_URL=$addr
}
