#!/usr/bin/env bash
# The built-in loopback-demo profile end to end: a real responder on loopback,
# a real scan, verdict READY and every check passing.
set -u
CALLREADY="${CALLREADY:-$(dirname "$0")/../../build/callready}"
tmp=$(mktemp -d)
resp_pid=""
cleanup() { [ -n "$resp_pid" ] && kill "$resp_pid" 2>/dev/null && wait "$resp_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$CALLREADY" respond --listen 127.0.0.1:7447 --bind 127.0.0.1 --udp-ports 5004,9000,20000-20099 \
  --stun-ports 3478 --sip-ports 15060 --log-level warn >"$tmp/resp.log" 2>&1 &
resp_pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/7447) 2>/dev/null && break
  sleep 0.1
done
"$CALLREADY" scan --profile loopback-demo -q -o "$tmp/demo.json" --timeout 30
rc=$?
python3 - "$tmp/demo.json" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [(c["id"], c["status"], c["summary"]) for c in r["checks"] if c["status"] != "pass"]
assert not bad, bad
assert r["verdict"] == "ready" and sys.argv[2] == "0", (r["verdict"], sys.argv[2])
assert len(r["checks"]) == 6
PY
status=$?
[ $status = 0 ] || cat "$tmp/resp.log" >&2
[ $status = 0 ] && echo "loopback-demo: 1 passed, 0 failed" || echo "loopback-demo: 0 passed, 1 failed"
exit $status
