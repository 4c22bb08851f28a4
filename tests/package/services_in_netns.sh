#!/usr/bin/env bash
# Run by install_test.sh inside a private network namespace (unshare -n): the
# installed units' ExecStart lines (tests/package/unit_exec.sh) on loopback
# only, so the loopback-demo profile's fixed ports collide with nothing and
# not one packet leaves. Prints "ok: ..." / "FAIL: ..." lines; exits 1 on any
# failure. Needs UNIT_TMP (a directory the caller removes) and SKIP_EXPORTER=1
# when the installed binary has no `exporter` command.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../support/lib.sh"
ip link set lo up || { echo "FAIL: cannot bring loopback up"; exit 1; }
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# The responder, started by its unit's ExecStart: the token from the
# credential, never on the command line.
bash "$here/unit_exec.sh" callready-respond.service >"$UNIT_TMP/respond.log" 2>&1 &
resp=$!
pids+=("$resp")
if WAIT_PID=$resp wait_until 15 tcp_accepts 127.0.0.1 7447; then
  ok "callready-respond.service's ExecStart serves the control port"
else
  bad "the responder did not open its control port"
  cat "$UNIT_TMP/respond.log"
  exit 1
fi
token=$(cat /etc/callready/respond.token)
if tr '\0' ' ' </proc/"$resp"/cmdline | grep -qF -- "$token"; then
  bad "the token is on the responder's command line"
else
  ok "the token is not on the responder's command line: $(tr '\0' ' ' </proc/"$resp"/cmdline)"
fi
[ "$(stat -c %u /proc/"$resp")" = 61184 ] && ok "the responder runs as the dynamic uid" || bad "the responder runs as uid $(stat -c %u /proc/"$resp")"
grep -q '^CapEff:\s*0*$' /proc/"$resp"/status && ok "the responder holds no capability" || bad "the responder holds capabilities: $(grep CapEff /proc/"$resp"/status)"

# A scan of the loopback-demo profile against it, from the command line.
callready scan --profile loopback-demo --token-file /etc/callready/respond.token -q \
  -o "$UNIT_TMP/demo.json" --timeout 30
rc=$?
if python3 - "$UNIT_TMP/demo.json" "$rc" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
bad = [(c["id"], c["status"], c["summary"]) for c in r["checks"] if c["status"] != "pass"]
assert not bad, bad
assert r["verdict"] == "ready" and sys.argv[2] == "0", (r["verdict"], sys.argv[2])
assert len(r["checks"]) == 6, len(r["checks"])
PY
  ok "callready scan --profile loopback-demo: ready, 6 checks pass"
else
  bad "the loopback-demo scan against the packaged responder"
  cat "$UNIT_TMP/respond.log"
fi

# The periodic scan, three runs of its unit's ExecStart with CALLREADY_KEEP=2:
# three reports written (names carry nanoseconds, so runs in one second still sort by time), the oldest
# deleted, last.* at the newest.
for i in 1 2 3; do
  bash "$here/unit_exec.sh" callready-scan.service >"$UNIT_TMP/scan$i.log" 2>&1
  rc=$?
  [ $rc = 0 ] || bad "scan run $i exited $rc: $(cat "$UNIT_TMP/scan$i.log")"
done
reports=(/var/lib/callready/reports/*.json)
htmls=(/var/lib/callready/reports/*.html)
[ ${#reports[@]} = 2 ] && [ ${#htmls[@]} = 2 ] && ok "rotation kept the newest 2 of 3 reports" ||
  bad "rotation: ${#reports[@]} JSON and ${#htmls[@]} HTML reports left: ${reports[*]}"
newest=$(ls /var/lib/callready/reports/*.json | LC_ALL=C sort | tail -1)
[ "$(readlink -f /var/lib/callready/last.json)" = "$(readlink -f "$newest")" ] &&
  ok "last.json points at the newest report" || bad "last.json -> $(readlink /var/lib/callready/last.json), newest $newest"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["verdict"]=="ready", r["verdict"]' \
  /var/lib/callready/last.json && ok "the periodic scan (token from its credential) is ready" ||
  bad "the periodic scan's report is not ready"
[ "$(stat -c %u /var/lib/private/callready/reports)" = 61184 ] && ok "reports belong to the dynamic uid" ||
  bad "reports owner $(stat -c %u /var/lib/private/callready/reports)"

# The exporter, by its unit's ExecStart (fixed 127.0.0.1:9947).
if [ "${SKIP_EXPORTER:-0}" = 1 ]; then
  echo "SKIPPED: callready-exporter.service start (this callready has no exporter command)"
else
  bash "$here/unit_exec.sh" callready-exporter.service >"$UNIT_TMP/exporter.log" 2>&1 &
  exp=$!
  pids+=("$exp")
  if WAIT_PID=$exp wait_until 15 tcp_accepts 127.0.0.1 9947; then
    ok "callready-exporter.service's ExecStart listens on 127.0.0.1:9947"
    python3 - <<'PY' && ok "the exporter answers /metrics and /probe?module=loopback-demo" || bad "the exporter's answers"
import urllib.request
m = urllib.request.urlopen("http://127.0.0.1:9947/metrics", timeout=10).read().decode()
assert m.strip(), "empty /metrics"
p = urllib.request.urlopen("http://127.0.0.1:9947/probe?module=loopback-demo&target=127.0.0.1", timeout=60).read().decode()
assert any(l.startswith("probe_success ") for l in p.splitlines()), p[:500]
PY
  else
    bad "the exporter did not listen on 127.0.0.1:9947"
    cat "$UNIT_TMP/exporter.log"
  fi
fi

kill -TERM "$resp"
wait "$resp"
rc=$?
pids=("${pids[@]/$resp/}")
[ $rc = 0 ] && ok "the responder stops cleanly on SIGTERM" || bad "the responder exited $rc on SIGTERM"
exit $fail
