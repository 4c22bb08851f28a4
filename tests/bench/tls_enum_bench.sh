#!/bin/bash
# Full cipher enumeration of one loopback `openssl s_server` (TLS 1.0-1.3, every
# suite libssl serves at security level 0, server order) by callready's tls
# check and by sslscan, in the same run, ROUNDS rounds each; medians compared.
# Asserts identical suite sets and callready <= 0.2x sslscan's wall time. Also
# reports the time with pace_ms set and the TCP connections used.
# Env: CALLREADY (binary), SOURCE_DIR; ROUNDS (default 5), PACE_MS (default 2).
set -euo pipefail
: "${CALLREADY:?}" "${SOURCE_DIR:?}"
ROUNDS=${ROUNDS:-5}
PACE_MS=${PACE_MS:-2}
for p in openssl sslscan python3; do command -v "$p" >/dev/null || { echo "skip: $p missing"; exit 77; }; done
[ -x "$CALLREADY" ] || { echo "skip: $CALLREADY not built"; exit 77; }

work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bash "$SOURCE_DIR/tests/fixtures/tls/make_certs.sh" "$work/pki" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$work/pki/leaf.pem" -key "$work/pki/leaf.key" \
  -cert_chain "$work/pki/inter.pem" -cipher 'ALL:@SECLEVEL=0' -serverpref >"$work/s_server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

profile() {  # $1 file, $2 extra params (JSON members, may be empty)
  cat >"$1" <<JSON
{"name": "tls-bench", "description": "tls enumeration bench", "variables": {},
 "checks": [{"id": "tls-bench", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "127.0.0.1", "port": $port, "server_name": "localhost", "ca_file": "$work/pki/root.pem"$2},
   "requirement": {"text": "bench", "source": "bench"}}]}
JSON
}
profile "$work/plain.json" ""
profile "$work/paced.json" ", \"pace_ms\": $PACE_MS"

now() { date +%s.%N; }
# Prints "seconds" and leaves the suite list in $2 ("tls1.2 0xC030" lines, sorted).
run_callready() {  # $1 profile, $2 out suites file, $3 out details file
  local t0 t1
  t0=$(now)
  "$CALLREADY" scan --profile "$1" --format json --quiet --timeout 60 >"$work/report.json" || true
  t1=$(now)
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
run_sslscan() {  # $1 out suites file, remaining: extra sslscan options
  local out=$1 t0 t1
  shift
  t0=$(now)
  sslscan --no-colour --xml="$work/sslscan.xml" "$@" "127.0.0.1:$port" >/dev/null
  t1=$(now)
  sed -n 's/.*<cipher status="\(accepted\|preferred\)" sslversion="TLSv\(1\.[0-3]\)".* id="0x\([0-9A-Fa-f]*\)".*/tls\2 0x\3/p' \
    "$work/sslscan.xml" | tr "a-f" "A-F" | sort >"$out"
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$work/t_cr"; : >"$work/t_ss"; : >"$work/t_ssc"; : >"$work/t_pace"
for i in $(seq "$ROUNDS"); do
  run_callready "$work/plain.json" "$work/cr.txt" "$work/cr.json" >>"$work/t_cr"
  run_sslscan "$work/ss.txt" >>"$work/t_ss"
  run_sslscan "$work/ssc.txt" --no-heartbleed --no-renegotiation --no-compression --no-fallback --no-groups \
    --no-check-certificate >>"$work/t_ssc"
  run_callready "$work/paced.json" "$work/crp.txt" "$work/crp.json" >>"$work/t_pace"
  diff "$work/cr.txt" "$work/ss.txt" >/dev/null || { echo "FAIL: suite sets differ (callready < > sslscan)"; diff "$work/cr.txt" "$work/ss.txt"; exit 1; }
  diff "$work/crp.txt" "$work/ss.txt" >/dev/null || { echo "FAIL: paced suite set differs"; exit 1; }
done
cr=$(median <"$work/t_cr"); ss=$(median <"$work/t_ss"); ssc=$(median <"$work/t_ssc"); pace=$(median <"$work/t_pace")
ratio=$(echo "$cr / $ss" | bc -l)
ratio_c=$(echo "$cr / $ssc" | bc -l)
suites=$(wc -l <"$work/cr.txt")
conns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections_used"])' "$work/cr.json")
printf 'tls enumeration, %d rounds, %d accepted suites (identical in callready and sslscan)\n' "$ROUNDS" "$suites"
printf '  callready tls check        median %.3f s  (%s TCP connections; whole `callready scan` process)\n' "$cr" "$conns"
printf '  sslscan (default)          median %.3f s  ratio %.3f\n' "$ss" "$ratio"
printf '  sslscan (ciphers only)     median %.3f s  ratio %.3f\n' "$ssc" "$ratio_c"
printf '  callready with pace_ms=%s  median %.3f s\n' "$PACE_MS" "$pace"
python3 -c 'import json,sys; print("  server order per version:", json.load(open(sys.argv[1]))["order"])' "$work/cr.json"
if [ "$(echo "$ratio > 0.2" | bc -l)" = 1 ]; then echo "FAIL: ratio $ratio > 0.2"; exit 1; fi
echo "1 passed, 0 failed"
