#!/usr/bin/env bash
# The CLI under hostile input (issue 11, items 6, 7, 9, 10, 12): nothing a
# profile, a report or an option holds may crash it, make it read without
# bound, slip past validation, or reach the terminal as raw bytes; running
# out of descriptors is never a finding about the network. Loopback only.
set -u
CALLREADY="${CALLREADY:-$(dirname "$0")/../../build/callready}"
. "$(dirname "$0")/../support/lib.sh"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect CODE PATTERN -- command...: exit status and a fixed string in stdout+stderr
expect() {
  local code="$1" pattern="$2"; shift 3
  local out rc
  out=$(timeout 60 "$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$* -> exit $rc, want $code: ${out:0:400}"; return; fi
  if [ -n "$pattern" ] && ! grep -qF -- "$pattern" <<<"$out"; then bad "$* -> output lacks \"$pattern\": ${out:0:400}"; return; fi
  ok
}

# Item 6: nesting, long strings, regex-free scans.
python3 - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
def rule(**kw):
    r = {"id": "a", "kind": "tcp", "category": "c", "params": {"host": "127.0.0.1", "port": 9}}
    r.update(kw); return r
open(f"{t}/deep.json", "w").write('{"name":"p","checks":[{"id":"a","kind":"tcp","category":"c","params":{"x":' + "[" * 20000 + "]" * 20000 + "}}]}")
open(f"{t}/deep_data.json", "w").write('{"name":"p","data":{"d":' + '{"a":' * 20000 + "1" + "}" * 20000 + '},"checks":[' + json.dumps(rule()) + "]}")
json.dump({"name": "p", "checks": [rule(id="a" * 30000)]}, open(f"{t}/long_id.json", "w"))
json.dump({"name": "p", "variables": {"v" * 30000: "x"}, "checks": [rule()]}, open(f"{t}/long_var.json", "w"))
json.dump({"name": "p", "checks": [rule(params={"host": "${" + "x" * 30000 + "}", "port": 9})]}, open(f"{t}/long_ref.json", "w"))
open(f"{t}/huge_number.json", "w").write('{"name":"p","checks":[{"id":"a","kind":"tcp","category":"c","params":{"host":"h","port":1e400}}]}')
json.dump({"name": "p", "checks": [rule(params={"host": "h", "port": 1e300})]}, open(f"{t}/big_number.json", "w"))
open(f"{t}/binary.json", "wb").write(b'{"name":"p","checks":[{"id":"\xff\x1b[31m","kind":"tcp","category":"c"}]}')
open(f"{t}/escape.json", "w").write('{"name":"p","checks":[{"id":"a","kind":"\\u001b[31mX\\u0007","category":"c"}]}')
open(f"{t}/big.json", "w").write(" " * (5 << 20) + "{}")
open(f"{t}/deep_report.json", "w").write('{"schema":"callready.report/v1","checks":[{"details":' + "[" * 20000 + "]" * 20000 + "}]}")
PY
expect 3 "deep.json: nested deeper than 64 levels" -- "$CALLREADY" profiles show "$tmp/deep.json"
expect 3 "deep_data.json: nested deeper than 64 levels" -- "$CALLREADY" scan --profile "$tmp/deep_data.json"
expect 3 "checks[0].id: an id is at most 128 characters" -- "$CALLREADY" profiles show "$tmp/long_id.json"
expect 3 "a variable name is at most 128 characters" -- "$CALLREADY" profiles show "$tmp/long_var.json"
expect 3 "long_ref.json: checks[0].params" -- "$CALLREADY" profiles show "$tmp/long_ref.json"
expect 3 "expected KEY=VALUE" -- "$CALLREADY" scan --set "$(printf 'k%.0s' $(seq 30000))=1"
expect 3 "huge_number.json: invalid JSON: number overflow parsing '1e400'" -- "$CALLREADY" profiles show "$tmp/huge_number.json"
expect 3 "big_number.json: checks[0].params.port: expected an integer 1-65535" -- "$CALLREADY" profiles show "$tmp/big_number.json"
expect 3 "deep_report.json: nested deeper than 64 levels" -- "$CALLREADY" report "$tmp/deep_report.json"

# Item 7: size caps, an endless file included.
expect 3 "/dev/zero: larger than the 4096 KiB a profile may have" -- "$CALLREADY" scan --profile /dev/zero
expect 3 "big.json: larger than the 4096 KiB a profile may have" -- "$CALLREADY" profiles show "$tmp/big.json"
expect 3 "/dev/zero: larger than the 65536 KiB a report may have" -- "$CALLREADY" report /dev/zero

# Item 12: bytes of input are printed escaped, never raw.
out=$("$CALLREADY" profiles show "$tmp/binary.json" 2>&1)
if grep -qF "invalid JSON: parse error at line 1, column 30" <<<"$out" && grep -qF "'\"\\xff'" <<<"$out" &&
   ! LC_ALL=C grep -q $'[\x1b\xff]' <<<"$out"; then ok; else bad "raw bytes printed: $out"; fi
out=$("$CALLREADY" profiles show "$tmp/escape.json" 2>&1)
if grep -qF 'unknown check kind "\x1b[31mX\x07"' <<<"$out" && ! LC_ALL=C grep -q $'[\x1b\x07]' <<<"$out"; then ok
else bad "control bytes printed: $out"; fi
out=$("$CALLREADY" scan --profile $'/nonexistent/\xff\x1b' 2>&1)
if grep -qF '/nonexistent/\xff\x1b' <<<"$out"; then ok; else bad "path not escaped: $out"; fi

# Item 9: every numeric option finite and in range.
expect 3 "--dns-server 1.2.3.4:" -- "$CALLREADY" scan --dns-server 1.2.3.4:
expect 3 "--listen 127.0.0.1:" -- "$CALLREADY" respond --listen 127.0.0.1: --udp-ports 40000
expect 3 "--listen 127.0.0.1:0" -- "$CALLREADY" respond --listen 127.0.0.1:0 --udp-ports 40000
expect 3 "--bind nowhere" -- "$CALLREADY" respond --bind nowhere --udp-ports 40000
expect 3 "--max-pps" -- "$CALLREADY" respond --max-pps 0 --udp-ports 40000
expect 3 "--max-pps" -- "$CALLREADY" respond --max-pps nan --udp-ports 40000
for t in nan inf -1 0 3601 1e400; do expect 3 "--timeout" -- "$CALLREADY" scan --timeout "$t"; done
for c in 0 -5 4097 nan; do expect 3 "--concurrency" -- "$CALLREADY" scan --concurrency "$c"; done
for opt in --default-timeout --read-timeout --max-timeout --timeout-offset; do
  expect 3 "$opt" -- "$CALLREADY" exporter "$opt" nan
  expect 3 "$opt" -- "$CALLREADY" exporter "$opt" inf
done
expect 3 "--max-concurrent-probes" -- "$CALLREADY" exporter --max-concurrent-probes 0
expect 3 "--listen 127.0.0.1:" -- "$CALLREADY" exporter --listen 127.0.0.1:
expect 3 "--responder 127.0.0.1:" -- "$CALLREADY" scan --responder 127.0.0.1:

# Item 10: 60 TCP checks at --concurrency 1500 under a 64-descriptor limit
# (soft = hard, so raising cannot help): the engine lowers the concurrency,
# every check connects, nothing is reported as a network failure.
python3 - "$tmp" <<'PY' &
import os, select, socket, sys, time
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", 0)); t.listen(512)
open(sys.argv[1] + "/port.tmp", "w").write(f"{t.getsockname()[1]}\n")
os.rename(sys.argv[1] + "/port.tmp", sys.argv[1] + "/port")
end = time.time() + 120
while time.time() < end:
    if select.select([t], [], [], 0.2)[0]:
        c, _ = t.accept(); c.close()
PY
pids+=($!)
WAIT_PID=$! wait_until 5 test -s "$tmp/port" || { echo "FAIL: the listener did not start" >&2; exit 1; }
port=$(cat "$tmp/port")
python3 - "$tmp" "$port" <<'PY'
import json, sys
checks = [{"id": f"t{i}", "kind": "tcp", "category": "c", "params": {"host": "127.0.0.1", "port": int(sys.argv[2])}}
          for i in range(60)]
json.dump({"name": "many", "checks": checks}, open(sys.argv[1] + "/many.json", "w"))
PY
out=$(bash -c 'ulimit -n 64 && exec "$@"' _ "$CALLREADY" scan --profile "$tmp/many.json" --concurrency 1500 \
  --timeout 60 --format json -v 2>"$tmp/many.err"); rc=$?
if [ $rc = 0 ] && python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["verdict"] == "ready" and all(c["status"] == "pass" for c in r["checks"]) and len(r["checks"]) == 60
' "$out" 2>/dev/null && grep -q -- "--concurrency 1500 lowered to" "$tmp/many.err"; then ok
else bad "60 checks under ulimit -n 64: exit $rc: ${out:0:300} $(head -c 300 "$tmp/many.err")"; fi

echo "hostile-input: $passed passed, $failed failed"
[ "$failed" = 0 ]
