#!/usr/bin/env bash
# --token-file on `respond` and `scan`: the secret is read from a file (the
# packaged unit passes a systemd credential this way, so it never shows in
# ps), the file's line end is not part of it, and it matches --token exactly:
# a scan with the right token passes, a wrong one is a set-up error. Bad
# files and --token with --token-file are usage errors (exit 3).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
CALLREADY="${CALLREADY:-$here/../../build/callready}"
. "$here/../support/lib.sh"
tmp=$(mktemp -d)
RESPONDER_PID=""
cleanup() {
  [ -n "$RESPONDER_PID" ] && kill "$RESPONDER_PID" 2>/dev/null && wait "$RESPONDER_PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
check() { # check NAME COMMAND...: counts a pass when COMMAND succeeds
  local name=$1
  shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $name"; fail=$((fail + 1)); fi
}
exits() { # exits CODE COMMAND...: COMMAND exits with CODE
  local want=$1
  shift
  "$@" >"$tmp/out" 2>&1
  local got=$?
  [ "$got" = "$want" ] || { echo "exit $got, wanted $want:"; cat "$tmp/out"; return 1; }
}

printf 's3cret\r\n' >"$tmp/token"
printf 'wrong\n' >"$tmp/wrong"
: >"$tmp/empty"

check "--token with --token-file is a usage error" exits 3 "$CALLREADY" respond --token a --token-file "$tmp/token"
check "a missing token file is a usage error" exits 3 "$CALLREADY" scan --token-file "$tmp/none"
check "the error names the file" grep -q "$tmp/none" "$tmp/out"
check "an empty token file is a usage error" exits 3 "$CALLREADY" respond --token-file "$tmp/empty"

start_responder_free "$tmp/resp.log" 4 --token-file "$tmp/token" --log-level warn ||
  { echo "FAIL: the responder did not start with --token-file"; exit 1; }
cat >"$tmp/p.json" <<JSON
{"name": "token-file", "description": "token file test", "variables": {},
 "checks": [{"id": "udp", "kind": "udp_range", "category": "media", "severity": "critical",
             "params": {"host": "127.0.0.1", "ports": "$RESPONDER_FIRST-$((RESPONDER_FIRST + 3))",
                        "control_port": $RESPONDER_CONTROL},
             "requirement": {"text": "token file", "source": "tests/cli"}}]}
JSON
status_of() { # status_of REPORT: the one check's status and error reason
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print(c["status"], (c.get("error") or {}).get("reason"))' "$1"
}
check "the right token from a file passes" exits 0 "$CALLREADY" scan --profile "$tmp/p.json" -q \
  --token-file "$tmp/token" -o "$tmp/ok.json" --timeout 20
check "the file's token equals --token s3cret" exits 0 "$CALLREADY" scan --profile "$tmp/p.json" -q \
  --token s3cret -o "$tmp/plain.json" --timeout 20
"$CALLREADY" scan --profile "$tmp/p.json" -q --token-file "$tmp/wrong" -o "$tmp/bad.json" --timeout 20 >/dev/null 2>&1
check "a wrong token from a file is a set-up error" [ "$(status_of "$tmp/bad.json")" = "error setup" ]

echo "token-file: $pass passed, $fail failed"
[ "$fail" = 0 ]
