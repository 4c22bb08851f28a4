# shellcheck shell=bash
# Shared by the TLS enumeration benches: one tls check's profile, a timed
# `callready scan` of it and a timed sslscan of the same server, each leaving
# the accepted suites as sorted "tls1.2 0xC02F" lines so the two compare with
# diff. Needs bench_lib.sh sourced first, and $work (a scratch dir).

# tls_profile FILE HOST PORT CA_FILE [EXTRA]: EXTRA are more JSON members of params.
tls_profile() {
  cat >"$1" <<JSON
{"name": "tls-bench", "description": "tls enumeration bench", "variables": {},
 "checks": [{"id": "tls-bench", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "$2", "port": $3, "server_name": "localhost", "ca_file": "$4"${5:-}},
   "requirement": {"text": "bench", "source": "bench"}}]}
JSON
}

tls_now() { date +%s.%N; }

# run_callready PROFILE SUITES_OUT DETAILS_OUT: prints the seconds the whole
# `callready scan` process took; DETAILS_OUT gets connections_used and the
# server order per version.
run_callready() {
  local t0 t1
  t0=$(tls_now)
  "$CALLREADY" scan --profile "$1" --format json --quiet --timeout 60 >"$work/report.json" || true
  t1=$(tls_now)
  python3 - "$work/report.json" "$2" "$3" <<'PY'
import json, subprocess, sys
r = json.load(open(sys.argv[1]))
d = r["checks"][0]["details"]
codes = {}
for line in subprocess.run(["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                           capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    codes[parts[2]] = parts[0].replace(",0x", "").upper().replace("0X", "0x")
with open(sys.argv[2], "w") as out:
    rows = []
    for v, e in d["versions"].items():
        for name in e["ciphers"]:
            rows.append(f"{v} {codes.get(name, name)}")
    out.write("\n".join(sorted(rows)) + "\n")
json.dump({"connections_used": d.get("connections_used"), "order": {v: e.get("server_order") for v, e in d["versions"].items()}},
          open(sys.argv[3], "w"))
PY
  echo "$t1 - $t0" | bc -l
}

# run_sslscan HOST:PORT SUITES_OUT [SSLSCAN OPTIONS...]: prints sslscan's seconds.
run_sslscan() {
  local target=$1 out=$2 t0 t1
  shift 2
  t0=$(tls_now)
  sslscan --no-colour --xml="$work/sslscan.xml" "$@" "$target" >/dev/null
  t1=$(tls_now)
  sed -n 's/.*<cipher status="\(accepted\|preferred\)" sslversion="TLSv\(1\.[0-3]\)".* id="0x\([0-9A-Fa-f]*\)".*/tls\2 0x\3/p' \
    "$work/sslscan.xml" | tr "a-f" "A-F" | sort >"$out"
  echo "$t1 - $t0" | bc -l
}

# connections_used DETAILS_FILE
connections_used() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections_used"])' "$1"; }
