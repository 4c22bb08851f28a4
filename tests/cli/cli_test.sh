#!/usr/bin/env bash
# The binary from outside: every exit code, every bad-input case, reports,
# re-rendering, SIGINT. Only loopback is used; servers are killed by PID.
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

# expect CODE PATTERN -- command...: exit status and a regex on stdout+stderr
expect() {
  local code="$1" pattern="$2"; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$* -> exit $rc, want $code: $out"; return; fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then bad "$* -> output lacks /$pattern/: $out"; return; fi
  ok
}

# A TCP listener and a silent UDP socket on loopback, ports chosen by the kernel.
# Every datagram the silent socket swallows adds a line to $tmp/udp_seen, so a
# test can wait until a scan's first query has gone out.
python3 - "$tmp" <<'PY' &
import os, select, socket, sys, time
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
open(sys.argv[1] + "/ports.tmp", "w").write(f"{t.getsockname()[1]} {u.getsockname()[1]}\n")
os.rename(sys.argv[1] + "/ports.tmp", sys.argv[1] + "/ports")  # appears whole, once both are bound
end = time.time() + 300
while time.time() < end:
    r, _, _ = select.select([t, u], [], [], 0.2)
    if t in r:
        c, _ = t.accept(); c.close()
    if u in r:
        u.recvfrom(4096)
        with open(sys.argv[1] + "/udp_seen", "a") as f: f.write("datagram\n")
PY
pids+=($!)
WAIT_PID=$! wait_until 5 test -s "$tmp/ports" || { echo "FAIL: the loopback helper did not start" >&2; exit 1; }
read -r open_port silent_port < "$tmp/ports"
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

profile() {  # profile NAME SEVERITY PORT
  cat > "$tmp/$1.json" <<JSON
{"name": "$1", "description": "cli test", "variables": {"need": null},
 "checks": [
  {"id": "tcp-a", "kind": "tcp", "category": "net", "severity": "$2", "params": {"host": "127.0.0.1", "port": $3},
   "requirement": {"text": "port reachable", "source": "test"}},
  {"id": "needs-var", "kind": "tcp", "category": "net", "params": {"host": "\${need}", "port": 1}}
 ]}
JSON
}
profile ready critical "$open_port"
profile degraded warning "$closed_port"
profile notready critical "$closed_port"
cat > "$tmp/unknown.json" <<'JSON'
{"name": "unknown", "variables": {"need": null},
 "checks": [{"id": "a", "kind": "tcp", "category": "net", "params": {"host": "${need}", "port": 1}}]}
JSON

# Exit codes 0-3.
expect 0 "Verdict: READY" -- "$CALLREADY" scan --profile "$tmp/ready.json"
expect 1 "Verdict: DEGRADED" -- "$CALLREADY" scan --profile "$tmp/degraded.json"
expect 2 "Verdict: NOT READY" -- "$CALLREADY" scan --profile "$tmp/notready.json"
expect 3 "needs --set need=" -- "$CALLREADY" scan --profile "$tmp/unknown.json"
expect 0 "" -- "$CALLREADY" scan --profile "$tmp/ready.json" --set need=127.0.0.1 --only tcp-a -q

# Bad input: a clear message and exit 3, never a crash.
expect 3 "no built-in profile of that name .*no readable file" -- "$CALLREADY" scan --profile "$tmp/missing.json"
printf '{"name": "x",\n "checks": [\n  {"id": }\n]}\n' > "$tmp/broken.json"
expect 3 "broken.json: invalid JSON: parse error at line 3, column" -- "$CALLREADY" scan --profile "$tmp/broken.json"
echo '{"name":"x","checks":[{"id":"a","kind":"warp","category":"c","params":{}}]}' > "$tmp/kind.json"
expect 3 'checks\[0\]\.kind: unknown check kind "warp"' -- "$CALLREADY" scan --profile "$tmp/kind.json"
echo '{"name":"x","checks":[{"id":"a","kind":"tcp","category":"c","params":{"host":"h","port":99999}}]}' > "$tmp/param.json"
expect 3 'checks\[0\]\.params\.port: expected an integer 1-65535' -- "$CALLREADY" scan --profile "$tmp/param.json"
expect 3 "--set novalue: expected KEY=VALUE" -- "$CALLREADY" scan --profile "$tmp/ready.json" --set novalue
expect 3 '--set nope: profile "ready" has no variable "nope"' -- "$CALLREADY" scan --profile "$tmp/ready.json" --set nope=1
expect 3 "--dns-server 999.1.1.1: expected IP or IP:PORT" -- "$CALLREADY" scan --dns-server 999.1.1.1
expect 3 "--dns-server 127.0.0.1:70000: expected" -- "$CALLREADY" scan --dns-server 127.0.0.1:70000
expect 3 "--only zzz: no check" -- "$CALLREADY" scan --profile "$tmp/ready.json" --only zzz
expect 3 "-o out.pdf: the extension must be" -- "$CALLREADY" scan --profile "$tmp/ready.json" -o out.pdf
expect 3 "bogus" -- "$CALLREADY" scan --bogus
expect 3 "" -- "$CALLREADY" frobnicate
expect 3 "--timeout" -- "$CALLREADY" scan --timeout 0
expect 3 "--timeout: expected 0 < SECONDS" -- "$CALLREADY" scan --timeout nan
expect 3 "--timeout: expected 0 < SECONDS" -- "$CALLREADY" scan --timeout inf
expect 0 "callready [0-9]+\.[0-9]+\.[0-9]+" -- "$CALLREADY" --version
expect 0 "scan" -- "$CALLREADY" --help
expect 0 "--dns-server" -- "$CALLREADY" scan --help

# Reports: several -o at once, JSON per the contract, re-rendered by `report`.
expect 2 "" -- "$CALLREADY" scan --profile "$tmp/notready.json" -q -o "$tmp/r.json" -o "$tmp/r.txt" -o "$tmp/r.html"
if python3 - "$tmp/r.json" <<'PY'; then ok; else bad "report JSON keys"; fi
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "callready.report/v1"
for k in ["tool", "profile", "started_at", "finished_at", "duration_ms", "verdict", "score", "categories", "checks"]:
    assert k in r, k
assert r["verdict"] == "not_ready" and r["tool"]["name"] == "callready"
c = r["checks"][0]
for k in ["id", "kind", "category", "target", "status", "duration_ms", "summary", "findings", "details"]:
    assert k in c, k
assert c["status"] == "fail" and c["details"]["error"] == "refused"
f = c["findings"][0]
for k in ["severity", "code", "message", "remediation", "requirement"]:
    assert k in f, k
assert f["requirement"] == "port reachable [test]"
assert r["checks"][1]["status"] == "skipped"
PY
grep -q "NOT READY" "$tmp/r.txt" && ok || bad "text report"
grep -qi "<html" "$tmp/r.html" && ok || bad "html report"
expect 0 "" -- "$CALLREADY" report "$tmp/r.json" -o "$tmp/again.json" -o "$tmp/again.txt"
cmp -s "$tmp/r.json" "$tmp/again.json" && ok || bad "JSON re-render differs"
cmp -s "$tmp/r.txt" "$tmp/again.txt" && ok || bad "text re-render differs"
echo '{"schema":"something/else"}' > "$tmp/other.json"
expect 3 "not a callready report" -- "$CALLREADY" report "$tmp/other.json" -o "$tmp/x.txt"
expect 3 "cannot read" -- "$CALLREADY" report "$tmp/none.json"
out=$("$CALLREADY" scan --profile "$tmp/ready.json" --format json 2>/dev/null)
python3 -c 'import json,sys; assert json.loads(sys.argv[1])["verdict"]=="ready"' "$out" && ok || bad "--format json"
# No colour when not a terminal, whatever NO_COLOR says.
"$CALLREADY" scan --profile "$tmp/notready.json" | grep -q $'\x1b' && bad "colour on a pipe" || ok

# On a terminal (script(1) gives one): a live progress line on stderr and
# colour; NO_COLOR turns colour off; --quiet shows neither.
if command -v script >/dev/null; then
  tty_out=$(script -qec "$CALLREADY scan --profile $tmp/notready.json" /dev/null)
  grep -q '\[2/2\] 1 problem' <<<"$tty_out" && ok || bad "no progress line on a TTY: $tty_out"
  grep -q $'\x1b\[1;31mNOT READY' <<<"$tty_out" && ok || bad "no colour on a TTY"
  tty_out=$(NO_COLOR=1 script -qec "$CALLREADY scan --profile $tmp/notready.json" /dev/null)
  grep -q $'\x1b\[1;31m' <<<"$tty_out" && bad "colour despite NO_COLOR" || ok
  tty_out=$(script -qec "$CALLREADY scan --profile $tmp/notready.json --quiet" /dev/null)
  [ -z "$(tr -d '\r\n' <<<"$tty_out")" ] && ok || bad "--quiet printed: $tty_out"
fi

# SIGINT: the scan ends early, still writes the report, marked incomplete.
cat > "$tmp/slow.json" <<JSON
{"name": "slow", "checks": [
 {"id": "silent-dns", "kind": "dns", "category": "dns", "params": {"name": "a.example.test", "type": "A", "query_timeout_ms": 20000, "timeout_ms": 30000}}]}
JSON
start=$(date +%s.%N)
rm -f "$tmp/udp_seen"
"$CALLREADY" scan --profile "$tmp/slow.json" --dns-server "127.0.0.1:$silent_port" -q -o "$tmp/int.json" &
scan_pid=$!
# Interrupt once the check is under way: its first DNS query has reached the silent server.
WAIT_PID=$scan_pid wait_until 5 test -s "$tmp/udp_seen" || bad "SIGINT: the scan sent no DNS query within 5 s"
kill -INT "$scan_pid"
wait "$scan_pid"; rc=$?
took=$(python3 -c "import time; print(round(time.time() - $start, 2))")
[ "$rc" = 3 ] && ok || bad "SIGINT exit $rc"
python3 - "$tmp/int.json" "$took" <<'PY' && ok || bad "SIGINT report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["incomplete"] is True, r
assert r["checks"][0]["status"] == "error" and r["checks"][0]["error"]["reason"] == "interrupted", r["checks"][0]
assert float(sys.argv[2]) < 3, sys.argv[2]
PY

# --timeout: the overall deadline marks unfinished checks error/timeout.
"$CALLREADY" scan --profile "$tmp/slow.json" --dns-server "127.0.0.1:$silent_port" -q --timeout 1 -o "$tmp/to.json"
python3 - "$tmp/to.json" <<'PY' && ok || bad "--timeout report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["incomplete"] is True and r["checks"][0]["error"]["reason"] == "timeout", r
assert r["duration_ms"] < 2500, r["duration_ms"]
PY

# profiles: list, show, and show's output is itself a loadable profile.
expect 0 "webex-calling" -- "$CALLREADY" profiles
"$CALLREADY" profiles show "$tmp/ready.json" --set need=127.0.0.1 > "$tmp/shown.json" && ok || bad "profiles show"
expect 0 "READY" -- "$CALLREADY" scan --profile "$tmp/shown.json" --only tcp-a
grep -q '"host": "127.0.0.1"' "$tmp/shown.json" && ! grep -q 'need}' "$tmp/shown.json" && ok || bad "show substitutes --set"
expect 3 "no built-in profile" -- "$CALLREADY" profiles show nope

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
