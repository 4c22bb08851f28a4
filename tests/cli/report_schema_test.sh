#!/usr/bin/env bash
# Every report the scans below write holds to schema/callready.report.v1.json
# (python3-jsonschema) and loads back with `callready report`; reports that
# would lie (unknown enum values, missing keys, out-of-range numbers) are
# refused by both, `callready report` with exit 3 and the JSON path.
#
# The reports: the fixtures, a loopback-demo scan against a real responder
# (passing details), a scan of every kind this binary knows against loopback
# (failing and error details), and every built-in profile with nothing but
# loopback (resolve errors, dependency causes). All of it runs in a private
# network namespace: the built-in profiles name real hosts and must never
# reach them from a test.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
CALLREADY="${CALLREADY:-$here/../../build/callready}"
CALLREADY=$(realpath "$CALLREADY")
SOURCE_DIR="${SOURCE_DIR:-$here/../..}"

if [ -z "${REPORT_SCHEMA_NETNS:-}" ]; then
  for ns in "unshare -n" "unshare -rn"; do
    if $ns ip link set lo up 2>/dev/null; then
      REPORT_SCHEMA_NETNS=1 exec $ns bash "$here/report_schema_test.sh" "$@"
    fi
  done
  echo "SKIP: cannot create a private network namespace (unshare -n needs root or user namespaces)"
  exit 77
fi
python3 -c 'import jsonschema' 2>/dev/null || { echo "SKIP: python3-jsonschema is not installed"; exit 77; }

. "$here/../support/lib.sh"
ip link set lo up || { echo "FAIL: cannot bring loopback up in the namespace"; exit 1; }
tmp=$(mktemp -d)
resp_pid=""
cleanup() { [ -n "$resp_pid" ] && kill "$resp_pid" 2>/dev/null && wait "$resp_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
mkdir -p "$tmp/reports"
cp "$SOURCE_DIR"/tests/fixtures/reports/*.json "$tmp/reports/"

# The loopback-demo ports (the namespace is ours alone).
"$CALLREADY" respond --listen 127.0.0.1:7447 --bind 127.0.0.1 --udp-ports 5004,9000,20000-20099 \
  --tcp-ports 5005 --stun-ports 3478 --sip-ports 15060 --log-level warn >"$tmp/resp.log" 2>&1 &
resp_pid=$!
WAIT_PID=$resp_pid wait_until 10 tcp_accepts 127.0.0.1 7447 || { echo "FAIL: no responder"; cat "$tmp/resp.log"; exit 1; }
"$CALLREADY" scan --profile loopback-demo -q -o "$tmp/reports/loopback-demo.json" --timeout 30

# Every kind this binary knows: the loader's "unknown check kind" error lists them.
kinds=$(printf '{"name":"k","checks":[{"id":"a","kind":"-","category":"c"}]}' > "$tmp/k.json"
        "$CALLREADY" profiles show "$tmp/k.json" 2>&1 | sed -n 's/.*(known: \(.*\)).*/\1/p' | tr -d ',')
# Loopback targets in the kind's contract parameters; a kind whose rule does
# not validate (parameters unknown here) is left out and named.
python3 - "$CALLREADY" "$tmp" $kinds <<'PY'
import json, subprocess, sys, os
callready, tmp, kinds = sys.argv[1], sys.argv[2], sys.argv[3:]
params = {
  "dns": {"name": "callready.invalid", "type": "A"},
  "tcp": {"host": "127.0.0.1", "port": 9},
  "tls": {"host": "127.0.0.1", "port": 5005, "server_name": "localhost"},
  "stun": {"host": "127.0.0.1", "port": 3478},
  "udp_range": {"host": "127.0.0.1", "ports": "20000-20009"},
  "pmtu": {"host": "127.0.0.1", "port": 5004},
  "sip_alg": {"host": "127.0.0.1", "port": 15060},
  "dscp": {"host": "127.0.0.1"},
  "nat_timeout": {"host": "127.0.0.1", "max_s": 5, "protocols": ["udp"]},
  "media_quality": {"host": "127.0.0.1", "port": 5004, "codec": "g711", "duration_s": 1},
  "media_path": {"host": "127.0.0.1"},
  "ice": {"stun": "127.0.0.1:3478"},
  "http": {"url": "http://127.0.0.1:9/"},
  "ntp": {"host": "127.0.0.1", "port": 9},
  "proxy": {"host": "127.0.0.1"},
}
checks = []
for k in kinds:
    if k not in params:
        print(f"note: kind {k} has no parameters in this test", file=sys.stderr); continue
    rule = {"id": k, "kind": k, "category": "c", "params": dict(params[k], timeout_ms=8000)}
    probe = {"name": "one", "checks": [rule]}
    path = os.path.join(tmp, f"one-{k}.json")
    json.dump(probe, open(path, "w"))
    r = subprocess.run([callready, "profiles", "show", path], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"note: kind {k} left out: {r.stderr.strip()}", file=sys.stderr); continue
    checks.append(rule)
json.dump({"name": "every-kind", "checks": checks}, open(os.path.join(tmp, "every-kind.json"), "w"))
print(f"every-kind: {len(checks)} kinds", file=sys.stderr)
PY
"$CALLREADY" scan --profile "$tmp/every-kind.json" -q -o "$tmp/reports/every-kind.json" --timeout 30 \
  --dns-server 127.0.0.1:9 --concurrency 16

# Every built-in profile, its required variables filled with loopback names.
for name in $("$CALLREADY" profiles | awk '{print $1}'); do
  sets=$("$CALLREADY" profiles show "$name" |
         python3 -c 'import json,sys; print(*[k for k, v in json.load(sys.stdin)["variables"].items() if v["default"] is None])')
  args=()
  for v in $sets; do args+=(--set "$v=127.0.0.1"); done
  "$CALLREADY" scan --profile "$name" "${args[@]}" -q -o "$tmp/reports/builtin-$name.json" --timeout 20 \
    --dns-server 127.0.0.1:9 --concurrency 16 &
done
wait_builtin() { local p; for p in $(jobs -p); do [ "$p" = "$resp_pid" ] || wait "$p"; done; }
wait_builtin

count=$(ls "$tmp/reports" | wc -l)
[ "$count" -ge 8 ] && ok || bad "only $count reports were written: $(ls "$tmp/reports")"

# Each one: valid against the schema, and `callready report` loads it.
for r in "$tmp"/reports/*.json; do
  if out=$(python3 - "$SOURCE_DIR/schema/callready.report.v1.json" "$r" 2>&1 <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))), key=str)
for e in errors[:5]: print("/".join(map(str, e.absolute_path)), e.message)
sys.exit(1 if errors else 0)
PY
  ); then ok; else bad "$(basename "$r") does not hold to the schema: $out"; fi
  if out=$("$CALLREADY" report "$r" -o "$tmp/out.html" 2>&1); then ok; else bad "callready report $(basename "$r"): $out"; fi
done

# Reports that would lie: the schema and `callready report` both refuse them, with the path.
lie() {  # lie NAME PYTHON-EDIT EXPECTED-PATH
  python3 - "$SOURCE_DIR/tests/fixtures/reports/ready.json" "$tmp/lie-$1.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"))
PY
  if python3 - "$SOURCE_DIR/schema/callready.report.v1.json" "$tmp/lie-$1.json" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
sys.exit(0 if jsonschema.Draft202012Validator(schema).is_valid(json.load(open(sys.argv[2]))) else 1)
PY
  then bad "the schema accepts $1"; else ok; fi
  local out rc
  out=$("$CALLREADY" report "$tmp/lie-$1.json" 2>&1); rc=$?
  if [ $rc = 3 ] && grep -qF -- "$3" <<<"$out"; then ok; else bad "callready report $1: exit $rc, want 3 and \"$3\": $out"; fi
}
lie status 'r["checks"][0]["status"] = "bogus"' 'checks[0].status: unknown value "bogus"'
lie verdict 'r["verdict"] = "maybe"' 'verdict: unknown value "maybe"'
lie score 'r["score"] = 1e300' 'score: expected an integer 0-100'
lie only_schema 'r = {"schema": r["schema"]}' 'verdict: required'
lie severity 'r["checks"][0]["findings"] = [{"severity": "fatal", "code": "c", "message": "m", "remediation": "r", "requirement": "q"}]' 'checks[0].findings[0].severity: unknown value "fatal"'
lie reason 'r["checks"][0]["error"] = {"reason": "gremlins", "operation": None, "message": "m"}' 'checks[0].error.reason: unknown value "gremlins"'
lie duration 'r["checks"][1]["duration_ms"] = -5' 'checks[1].duration_ms: expected an integer'
lie details 'del r["checks"][0]["details"]' 'checks[0].details: required'

echo "report-schema: $passed passed, $failed failed"
[ "$failed" = 0 ]
