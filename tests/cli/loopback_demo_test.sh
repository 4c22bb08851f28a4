#!/usr/bin/env bash
# The built-in loopback-demo profile end to end: a real responder on loopback,
# a real scan, verdict READY and every check passing.
#
# The profile names fixed ports (7447, 3478, 5004, 9000, 20000-20099, 15060)
# and has no variables for them, so the responder and the scan run in a
# private network namespace of their own (loopback only): the ports cannot
# collide with any other test or program, and not one packet leaves.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
CALLREADY="${CALLREADY:-$here/../../build/callready}"
CALLREADY=$(realpath "$CALLREADY")

if [ -z "${LOOPBACK_DEMO_NETNS:-}" ]; then
  # Root: a plain new netns; otherwise one inside a user namespace, if allowed.
  for ns in "unshare -n" "unshare -rn"; do
    if $ns ip link set lo up 2>/dev/null; then
      LOOPBACK_DEMO_NETNS=1 exec $ns bash "$here/loopback_demo_test.sh" "$@"
    fi
  done
  echo "SKIP: cannot create a private network namespace (unshare -n needs root or user namespaces)"
  exit 77
fi

. "$here/../support/lib.sh"
ip link set lo up || { echo "FAIL: cannot bring loopback up in the namespace"; exit 1; }
tmp=$(mktemp -d)
resp_pid=""
cleanup() { [ -n "$resp_pid" ] && kill "$resp_pid" 2>/dev/null && wait "$resp_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$CALLREADY" respond --listen 127.0.0.1:7447 --bind 127.0.0.1 --udp-ports 5004,9000,20000-20099 \
  --stun-ports 3478 --sip-ports 15060 --log-level warn >"$tmp/resp.log" 2>&1 &
resp_pid=$!
# The responder opens its control port last, once every service is up.
if ! WAIT_PID=$resp_pid wait_until 10 tcp_accepts 127.0.0.1 7447; then
  echo "FAIL: the responder did not open its control port"; cat "$tmp/resp.log"
  echo "loopback-demo: 0 passed, 1 failed"
  exit 1
fi
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
