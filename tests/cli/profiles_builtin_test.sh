#!/usr/bin/env bash
# The built-in Webex profiles from outside: `profiles` lists them, `profiles
# show` round-trips (show NAME > a.json; show a.json gives the same JSON), and
# the default scan (`callready scan`, no arguments) on a machine with no
# internet finishes inside its deadline, says not ready, and explains every
# unreachable service in plain language.
#
# Network safety: the default profile targets real Webex hosts, so every scan
# here runs inside an empty network namespace (unshare -n, loopback only).
set -euo pipefail
: "${CALLREADY:?}"
CALLREADY=$(realpath "$CALLREADY")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

profiles=(webex-calling webex-meetings webex-b2b-sip broadworks-xsp)

# --- listing and round trip (no network involved) ---
"$CALLREADY" profiles >"$tmp/list.txt"
for p in "${profiles[@]}"; do
  grep -q "^ *$p\b" "$tmp/list.txt" || grep -q "\b$p\b" "$tmp/list.txt" || fail "profiles does not list $p"
  "$CALLREADY" profiles show "$p" >"$tmp/$p.json" || fail "profiles show $p exited $?"
  jq -e --arg p "$p" '.name == $p and (.checks | length) > 0' "$tmp/$p.json" >/dev/null || fail "$p: bad JSON"
  "$CALLREADY" profiles show "$tmp/$p.json" >"$tmp/$p.again.json" || fail "profiles show FILE for $p exited $?"
  diff <(jq -S . "$tmp/$p.json") <(jq -S . "$tmp/$p.again.json") >/dev/null || fail "$p: show does not round-trip"
  # Every rule cites a seed document.
  jq -e 'all(.checks[]; .requirement.source | test("^00[0-4]_[0-9a-f]{16}\\.txt § "))' "$tmp/$p.json" >/dev/null ||
    fail "$p: a rule does not cite a seed file"
done

# --- the default scan with no internet ---
if ! unshare -n true 2>/dev/null; then
  echo "SKIP: cannot create a network namespace (unshare -n needs root)"
  exit 77
fi
in_empty_netns() { unshare -n sh -c 'ip link set lo up 2>/dev/null; exec "$@"' sh "$@"; }

deadline=60  # the scan's default --timeout
start=$(date +%s.%N)
set +e
(cd "$tmp" && in_empty_netns "$CALLREADY" scan >"$tmp/scan.txt" 2>"$tmp/scan.err")
rc=$?
set -e
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
echo "default scan: exit $rc in ${elapsed}s"
[ "$rc" -eq 2 ] || { cat "$tmp/scan.txt" "$tmp/scan.err"; fail "default scan exited $rc, want 2 (not ready)"; }
(($(echo "$elapsed < $deadline" | bc))) || fail "default scan took ${elapsed}s, deadline ${deadline}s"
grep -qi "not.ready" "$tmp/scan.txt" || fail "text summary does not say not ready"

set +e
in_empty_netns "$CALLREADY" scan --format json >"$tmp/scan.json" 2>"$tmp/scan.err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "scan --format json exited $rc, want 2"
jq -e '.verdict == "not_ready" and .profile.name == "webex-calling"' "$tmp/scan.json" >/dev/null ||
  fail "verdict/profile wrong: $(jq -c '{verdict, profile}' "$tmp/scan.json")"

explained() {
python3 - "$1" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
checks = r["checks"]
bad = []
ran = [c for c in checks if c["status"] != "skipped"]
skipped = [c for c in checks if c["status"] == "skipped"]
if len(ran) < 8: bad.append(f"only {len(ran)} checks ran")
if not skipped: bad.append("no rule was skipped, yet calling_edge and responder are unset")
for c in skipped:
    if "--set " not in c["summary"]: bad.append(f"{c['id']}: skip summary does not name the --set: {c['summary']}")
code_like = re.compile(r"^[a-z0-9_.]+$")
# A check stopped by a failed step it depends on (its target did not resolve)
# is explained by the root cause that lists it, named once in plain language.
causes = r.get("root_causes", [])
for k in causes:
    if len(k["message"].split()) < 4: bad.append(f"root cause {k['code']}: message not plain language")
under = {i: k for k in causes for i in k["checks"]}
for c in ran:
    if c["status"] == "pass": bad.append(f"{c['id']} passed with no network")
    if len(c["summary"].split()) < 3: bad.append(f"{c['id']}: summary is not a sentence: {c['summary']!r}")
    if c["status"] == "error" and c["error"]["reason"] == "dependency":
        if c["id"] not in under: bad.append(f"{c['id']}: dependency error under no root cause")
        elif c["error"].get("cause") != under[c["id"]]["code"]: bad.append(f"{c['id']}: error names another cause")
        if len(c["error"]["message"].split()) < 4: bad.append(f"{c['id']}: error not plain language")
        continue
    fs = [f for f in c["findings"] if f["severity"] in ("warning", "critical")]
    if not fs: bad.append(f"{c['id']}: {c['status']} without a warning/critical finding")
    for f in fs:
        m = f["message"]
        if len(m.split()) < 4 or code_like.match(m): bad.append(f"{c['id']}: message not plain language: {m!r}")
        if not f.get("remediation"): bad.append(f"{c['id']}: finding without remediation")
        req = f.get("requirement") or ""
        req = json.dumps(req) if not isinstance(req, str) else req
        if not re.search(r"00[01]_[0-9a-f]{16}\.txt § ", req):
            bad.append(f"{c['id']}: finding does not carry the rule's requirement source")
if bad:
    print("\n".join(bad)); sys.exit(1)
print(f"{len(ran)} checks ran, {len(skipped)} skipped, {len(causes)} root cause(s), all explained")
EOF
}
explained "$tmp/scan.json" || fail "no route: findings not explained"

# A dead uplink: an interface and a default route, but nothing ever answers
# (the peer end of the veth is in the same empty namespace), so every DNS
# query times out instead of failing at once. Still inside the deadline.
dead_uplink() {
  unshare -n sh -c 'ip link set lo up &&
    ip link add v0 type veth peer name v1 && ip addr add 198.18.0.2/24 dev v0 &&
    ip link set v0 up && ip link set v1 up && ip route add default via 198.18.0.1 dev v0 || exit 77
    exec "$@"' sh "$@"
}
start=$(date +%s.%N)
set +e
dead_uplink "$CALLREADY" scan --format json >"$tmp/dead.json" 2>"$tmp/dead.err"
rc=$?
set -e
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
echo "default scan, dead uplink: exit $rc in ${elapsed}s"
if [ "$rc" -eq 77 ]; then
  echo "SKIP dead-uplink case: no veth here"
else
  [ "$rc" -eq 2 ] || { cat "$tmp/dead.err"; fail "dead uplink: exit $rc, want 2"; }
  (($(echo "$elapsed < $deadline" | bc))) || fail "dead uplink: took ${elapsed}s, deadline ${deadline}s"
  jq -e '.verdict == "not_ready"' "$tmp/dead.json" >/dev/null || fail "dead uplink: verdict not not_ready"
  explained "$tmp/dead.json" || fail "dead uplink: findings not explained"
fi
echo PASS
