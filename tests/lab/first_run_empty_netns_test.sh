#!/usr/bin/env bash
# The newcomer's first run, where DNS does not work: the default scan (the
# built-in webex-calling profile) in an empty network namespace prints the
# root cause first, in under 25 lines before the per-category detail, and
# every check it stopped is an error with reason `dependency` listed under it.
# Two shapes: no network at all (`unshare -n`: the host's resolver address is
# unreachable, not one packet leaves), and a resolver on loopback that never
# answers (timeouts); text, JSON and HTML each name the cause once. Then the
# other causes on a real (empty) network: a responder that is not running, and
# a host no check aimed at it can reach. Root only (unshare).
set -u
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
CALLREADY="${CALLREADY:-$SOURCE_DIR/build/callready}"
. "$SOURCE_DIR/tests/support/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (unshare -n)"; exit 77; }
unshare -n true 2>/dev/null || { echo "SKIPPED: no network namespaces here"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# check NAME: asserts on $tmp/NAME.txt (stdout), NAME.json and NAME.rc.
check() {
  python3 - "$tmp/$1" <<'PY' || failed=1
import json, re, sys
base = sys.argv[1]
text = open(base + ".txt").read().splitlines()
rep = json.load(open(base + ".json"))
rc = int(open(base + ".rc").read())
bad = []
def want(cond, what):
    if not cond: bad.append(what)
want(rc == 2, f"exit {rc}, want 2 (not ready)")
cats = [i for i, l in enumerate(text) if re.match(r"^\S.*  (not tested|ready|degraded|not ready|unknown)( \(\d+/100\))?$", l)]
cause = [i for i, l in enumerate(text) if l.startswith("Root cause: DNS does not work here")]
want(cause, "no DNS root cause line")
want(cats, "no category header")
if cause and cats:
    want(cause[0] < cats[0], "the root cause is not before the per-category detail")
    want(cats[0] < 25, f"{cats[0]} lines before the per-category detail, want < 25")
    want(cause[0] == min(i for i, l in enumerate(text) if l.startswith("Root cause:")), "DNS is not the first cause")
    want(re.search(r": (\d+ checks? failed and )?\d+ (checks )?could not run because of it$", text[cause[0]]),
         "the headline does not say how many checks could not run")
rcs = rep.get("root_causes", [])
want(rcs and rcs[0]["code"] in ("dns.unreachable", "dns.timeout"), f"root_causes: {rcs}")
if rcs:
    listed = set(rcs[0]["checks"])
    stopped = {c["id"] for c in rep["checks"] if c["status"] == "error"}
    want(stopped and stopped <= listed, f"stopped checks not under the cause: {stopped - listed}")
    for c in rep["checks"]:
        if c["status"] == "error":
            e = c["error"]
            want(e["reason"] == "dependency" and e["operation"] == "resolve" and e["cause"] == rcs[0]["code"],
                 f"{c['id']}: {e}")
        if c["id"] in listed and c["status"] == "fail":
            want(c["kind"] == "dns", f"{c['id']} failed under the DNS cause but is no DNS check")
    want(len(listed) >= 8, f"only {len(listed)} checks under the cause")
    want(sum(l.count(rcs[0]["message"]) for l in text) == 1, "the cause is said more than once")
    # Defect 7: a resolver that cannot be reached is "could not tell": the DNS
    # checks keep their own fix, never a rule's (e.g. "answered outside the
    # published subnets").
    for c in rep["checks"]:
        for f in c.get("findings", []):
            if f["code"] == rcs[0]["code"]:
                want(f.get("inconclusive") is True, f"{c['id']}: {f['code']} not inconclusive")
                want("answered outside" not in f["remediation"] and "DNS" in f["remediation"],
                     f"{c['id']}: the rule's fix replaced the check's own: {f['remediation']!r}")
    # The HTML report says the cause first too: before the categories, once.
    html = open(base + ".html").read()
    first_cat = html.find('<section class="category')
    causes = html.find('<section class="root-causes"')
    want(0 <= causes < first_cat, "HTML: no root-cause section before the categories")
    want(rcs[0]["code"] in html[causes:first_cat], "HTML: the root-cause section does not name the cause's code")
    want(all(f'>{i}</a>' in html[causes:first_cat] for i in listed), "HTML: a check under the cause is not listed there")
for l in text:
    want(l.strip() not in ("critical", "warning"), f"a bare severity line: {l!r}")
want(not any("0.0 s" in l for l in text), "a duration reads 0.0 s")
want(not any("unknown (0/100)" in l for l in text), "a category where nothing ran reads unknown (0/100)")
want(sum("--set responder=" in l for l in text) == 1, "the responder hint is not said exactly once")
if bad:
    print("FAIL " + base + ":\n  " + "\n  ".join(bad))
    print("\n".join(text))
    sys.exit(1)
print(f"ok {base}: root cause on line {cause[0] + 1}, detail from line {cats[0] + 1}, {len(rcs[0]['checks'])} checks under it")
PY
}

# 1. No network at all: the system resolver cannot be reached.
timeout 60 unshare -n "$CALLREADY" scan --format text -o "$tmp/empty.json" -o "$tmp/empty.html" >"$tmp/empty.txt" 2>"$tmp/empty.err"
echo $? >"$tmp/empty.rc"
check empty

# 2. Loopback only, a resolver that swallows every query (it times out).
cat >"$tmp/silent.sh" <<SH
ip link set lo up
python3 -c '
import os, socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
t = socket.socket(); t.bind(("127.0.0.1", u.getsockname()[1])); t.listen(8)
open("$tmp/port.tmp", "w").write(str(u.getsockname()[1])); os.rename("$tmp/port.tmp", "$tmp/port")
end = time.time() + 60
u.settimeout(0.2)
while time.time() < end:
    try: u.recvfrom(4096)
    except OSError: pass
' &
silent=\$!
. "$SOURCE_DIR/tests/support/lib.sh"
WAIT_PID=\$silent wait_until 10 test -s "$tmp/port" || { kill \$silent; exit 99; }
"$CALLREADY" scan --dns-server 127.0.0.1:\$(cat "$tmp/port") --format text -o "$tmp/silent.json" -o "$tmp/silent.html" >"$tmp/silent.txt" 2>"$tmp/silent.err"
rc=\$?
kill \$silent; wait \$silent 2>/dev/null
exit \$rc
SH
timeout 90 unshare -n bash "$tmp/silent.sh"
echo $? >"$tmp/silent.rc"
check silent

# 3. The same, with a responder named that is not running (loopback, no
#    `callready respond`): a second cause, after DNS, for the checks that need it.
timeout 60 unshare -n sh -c 'ip link set lo up; exec "$@"' sh "$CALLREADY" scan --set responder=127.0.0.1 \
  --format text -o "$tmp/noresp.json" >"$tmp/noresp.txt" 2>"$tmp/noresp.err"
echo $? >"$tmp/noresp.rc"
python3 - "$tmp/noresp" <<'PY' || failed=1
import json, sys
base = sys.argv[1]
rep = json.load(open(base + ".json"))
text = open(base + ".txt").read().splitlines()
rc = int(open(base + ".rc").read())
causes = {k["code"]: k for k in rep.get("root_causes", [])}
need = {c["id"] for c in rep["checks"] if c["status"] == "error" and c["error"]["reason"] == "setup"}
ok = (rc == 2 and "setup.control" in causes and need and set(causes["setup.control"]["checks"]) == need
      and causes["setup.control"]["message"].startswith("The responder cannot be used (")
      and sum(l.startswith("Root cause: The responder cannot be used") for l in text) == 1
      and not any("--set responder=" in l for l in text))
if not ok:
    print("FAIL " + base + ": " + json.dumps(rep.get("root_causes"), indent=1))
    print("\n".join(text))
    sys.exit(1)
print(f"ok {base}: the responder named once as a cause of {len(need)} checks")
PY

# 4. One host no check can reach (loopback only: no route to 192.0.2.1): the
#    host is named once as the cause of the checks aimed at it, the text says
#    it first, and a check aimed elsewhere stays out of it.
cat >"$tmp/host-profile.json" <<'JSON'
{"name": "a3-one-host", "description": "every check aimed at one unreachable host", "variables": {},
 "checks": [
  {"id": "tcp-443", "kind": "tcp", "category": "signaling", "severity": "critical",
   "params": {"host": "192.0.2.1", "port": 443}, "requirement": {"text": "TCP 443", "source": "lab"}},
  {"id": "tcp-5061", "kind": "tcp", "category": "signaling", "severity": "critical",
   "params": {"host": "192.0.2.1", "port": 5061}, "requirement": {"text": "TCP 5061", "source": "lab"}},
  {"id": "tls-443", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "192.0.2.1", "port": 443}, "requirement": {"text": "TLS on 443", "source": "lab"}},
  {"id": "tcp-other", "kind": "tcp", "category": "signaling", "severity": "warning",
   "params": {"host": "192.0.2.2", "port": 443}, "requirement": {"text": "TCP 443", "source": "lab"}}
 ]}
JSON
timeout 60 unshare -n sh -c 'ip link set lo up; exec "$@"' sh "$CALLREADY" scan --profile "$tmp/host-profile.json" \
  --format text -o "$tmp/host.json" >"$tmp/host.txt" 2>"$tmp/host.err"
echo $? >"$tmp/host.rc"
python3 - "$tmp/host" <<'PY' || failed=1
import json, sys
base = sys.argv[1]
rep = json.load(open(base + ".json"))
text = open(base + ".txt").read().splitlines()
rc = int(open(base + ".rc").read())
causes = rep.get("root_causes", [])
host = [k for k in causes if k["code"] == "host.unreachable" and k["message"].startswith("192.0.2.1 ")]
ok = (rc == 2 and len(host) == 1 and host[0]["checks"] == ["tcp-443", "tcp-5061", "tls-443"]
      and all(c["status"] == "fail" for c in rep["checks"] if c["id"] in host[0]["checks"])
      and sum(l.startswith("Root cause: 192.0.2.1 cannot be reached") for l in text) == 1
      and text.index(next(l for l in text if l.startswith("Root cause:"))) < text.index("signaling  not ready (0/100)"))
if not ok:
    print("FAIL " + base + ": " + json.dumps(causes, indent=1))
    print("\n".join(text))
    sys.exit(1)
print(f"ok {base}: 192.0.2.1 named once as the cause of {len(host[0]['checks'])} checks")
PY

exit $failed
