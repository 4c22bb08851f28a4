#!/usr/bin/env bash
# A device that drops large ClientHellos (like the load balancers that lose
# 256-511 byte hellos, or anything that drops hellos over a size) in front of
# a real `openssl s_server`: the tls check must find the same TLS 1.2 suites
# as against the server directly, by offering them in small groups, and name
# the drop (tls.large_hello_dropped with the size) instead of reporting
# TLS 1.2 as refused. The "device" is a loopback relay that resets any
# connection whose first TLS record is 256 bytes or more. Loopback only;
# servers are killed by PID.
set -u
CALLREADY="${CALLREADY:-$(dirname "$0")/../../build/callready}"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
. "$SOURCE_DIR/tests/support/lib.sh"
for p in openssl python3; do command -v "$p" >/dev/null || { echo "SKIP: $p missing"; exit 77; }; done
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

bash "$SOURCE_DIR/tests/fixtures/tls/make_certs.sh" "$tmp/pki" >/dev/null
for attempt in 1 2 3 4 5; do
  port=$(free_tcp_port)
  openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$tmp/pki/leaf.pem" -key "$tmp/pki/leaf.key" \
    -cipher 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:AES256-SHA:@SECLEVEL=0' \
    -no_tls1_3 >"$tmp/s_server.log" 2>&1 &
  server=$!
  WAIT_PID=$server wait_until 5 tcp_accepts 127.0.0.1 "$port" && break
  server=
  grep -qi "in use" "$tmp/s_server.log" || break
done
[ -n "${server:-}" ] || { echo "FAIL: s_server did not start"; cat "$tmp/s_server.log"; exit 1; }
pids+=("$server")

# The relay: reads the first record header, resets the connection when the
# record is 256 bytes or more, else relays both ways. Bounded in time.
python3 - "$port" "$tmp/relay_port" <<'PY' &
import os, select, socket, struct, sys, threading, time
upstream = int(sys.argv[1])
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64)
open(sys.argv[2] + ".tmp", "w").write(str(l.getsockname()[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
def serve(c):
    c.settimeout(5)
    try:
        head = b""
        while len(head) < 5:
            b = c.recv(5 - len(head))
            if not b: return
            head += b
        if struct.unpack(">H", head[3:5])[0] >= 256:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        u = socket.create_connection(("127.0.0.1", upstream), timeout=5)
        u.sendall(head)
        end = time.time() + 10
        while time.time() < end:
            r, _, _ = select.select([c, u], [], [], 0.5)
            for s in r:
                d = s.recv(65536)
                if not d: return
                (u if s is c else c).sendall(d)
    except OSError:
        pass
    finally:
        c.close()
end = time.time() + 120
l.settimeout(0.5)
while time.time() < end:
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pids+=($!)
wait_until 5 test -s "$tmp/relay_port" || { echo "FAIL: the relay did not start"; exit 1; }
relay=$(cat "$tmp/relay_port")

profile() {  # $1 file, $2 port
  cat >"$1" <<JSON
{"name": "large-hello", "description": "large ClientHello dropped", "variables": {},
 "checks": [{"id": "tls", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "127.0.0.1", "port": $2, "server_name": "localhost", "ca_file": "$tmp/pki/root.pem"},
   "requirement": {"text": "test", "source": "test"}}]}
JSON
}
profile "$tmp/direct.json" "$port"
profile "$tmp/relayed.json" "$relay"
"$CALLREADY" scan --profile "$tmp/direct.json" --format json --quiet --timeout 60 >"$tmp/direct.out"
"$CALLREADY" scan --profile "$tmp/relayed.json" --format json --quiet --timeout 60 >"$tmp/relayed.out"
python3 - "$tmp/direct.out" "$tmp/relayed.out" <<'PY'
import json, sys
direct = json.load(open(sys.argv[1]))["checks"][0]
relayed = json.load(open(sys.argv[2]))["checks"][0]
d12, r12 = direct["details"]["versions"]["tls1.2"], relayed["details"]["versions"]["tls1.2"]
fails = []
if "large_hello_dropped_bytes" in d12: fails.append("the direct scan saw a drop")
if not d12["supported"] or len(d12["ciphers"]) < 3: fails.append(f"direct: {d12}")
if not r12["supported"]: fails.append(f"relayed TLS 1.2 not supported: {r12}")
if sorted(r12["ciphers"]) != sorted(d12["ciphers"]): fails.append(f"suites differ: {r12['ciphers']} vs {d12['ciphers']}")
if r12.get("large_hello_dropped_bytes", 0) < 256: fails.append(f"no drop size: {r12}")
codes = [f["code"] for f in relayed["findings"]]
if "tls.large_hello_dropped" not in codes: fails.append(f"findings: {codes}")
if "tls.large_hello_dropped" in [f["code"] for f in direct["findings"]]: fails.append("direct: false positive")
if fails:
    print("FAIL:", *fails, sep="\n  "); sys.exit(1)
print(f"ok: {len(r12['ciphers'])} TLS 1.2 suites found behind the relay, "
      f"{r12['large_hello_dropped_bytes']}-byte hello dropped, named")
PY
