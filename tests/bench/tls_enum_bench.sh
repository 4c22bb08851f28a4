#!/bin/bash
# Full cipher enumeration of one loopback `openssl s_server` (TLS 1.0-1.3, every
# suite libssl serves at security level 0, server order) by callready's tls
# check and by sslscan, in the same run, ROUNDS rounds each; medians compared.
# Asserts identical suite sets (callready, callready paced, sslscan) in every
# round. Also reports the time with pace_ms set and the TCP connections used.
# quick: 1 round, suite sets only. full: ROUNDS rounds, sslscan's
# ciphers-only run too, and callready <= 0.2x sslscan's median wall time.
# Env: CALLREADY (binary), SOURCE_DIR; ROUNDS (default 5), PACE_MS (default 2).
set -euo pipefail
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
. "$SOURCE_DIR/tests/bench/tls_bench_lib.sh"
if bench_quick; then ROUNDS=1; else ROUNDS=${ROUNDS:-5}; fi
PACE_MS=${PACE_MS:-2}
for p in openssl sslscan python3 bc; do command -v "$p" >/dev/null || { echo "SKIP: $p missing"; exit 77; }; done
[ -x "$CALLREADY" ] || { echo "SKIP: $CALLREADY not built"; exit 77; }

bench_loopback
work=$BENCH_DIR
bash "$SOURCE_DIR/tests/fixtures/tls/make_certs.sh" "$work/pki" >/dev/null
# s_server on a free port; picked again if the port was taken before s_server bound it.
for attempt in 1 2 3 4 5; do
  port=$(free_tcp_port)
  openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$work/pki/leaf.pem" -key "$work/pki/leaf.key" \
    -cert_chain "$work/pki/inter.pem" -cipher 'ALL:@SECLEVEL=0' -serverpref >"$work/s_server.log" 2>&1 &
  server_pid=$!
  BENCH_PIDS+=("$server_pid")
  WAIT_PID=$server_pid wait_until 5 tcp_accepts 127.0.0.1 "$port" && break
  server_pid=
  grep -qi "in use" "$work/s_server.log" || break
done
[ -n "$server_pid" ] || { echo "FAIL: s_server did not start"; cat "$work/s_server.log"; exit 1; }

tls_profile "$work/plain.json" 127.0.0.1 "$port" "$work/pki/root.pem"
tls_profile "$work/paced.json" 127.0.0.1 "$port" "$work/pki/root.pem" ", \"pace_ms\": $PACE_MS"

: >"$work/t_cr"; : >"$work/t_ss"; : >"$work/t_ssc"; : >"$work/t_pace"
for i in $(seq "$ROUNDS"); do
  run_callready "$work/plain.json" "$work/cr.txt" "$work/cr.json" >>"$work/t_cr"
  run_sslscan "127.0.0.1:$port" "$work/ss.txt" >>"$work/t_ss"
  bench_quick || run_sslscan "127.0.0.1:$port" "$work/ssc.txt" --no-heartbleed --no-renegotiation --no-compression --no-fallback \
    --no-groups --no-check-certificate >>"$work/t_ssc"
  run_callready "$work/paced.json" "$work/crp.txt" "$work/crp.json" >>"$work/t_pace"
  diff "$work/cr.txt" "$work/ss.txt" >/dev/null || { echo "FAIL: suite sets differ (callready < > sslscan)"; diff "$work/cr.txt" "$work/ss.txt"; exit 1; }
  diff "$work/crp.txt" "$work/ss.txt" >/dev/null || { echo "FAIL: paced suite set differs"; exit 1; }
done
cr=$(median <"$work/t_cr"); ss=$(median <"$work/t_ss"); pace=$(median <"$work/t_pace")
ratio=$(echo "$cr / $ss" | bc -l)
suites=$(wc -l <"$work/cr.txt")
conns=$(connections_used "$work/cr.json")
printf 'tls enumeration, %d rounds, %d accepted suites (identical in callready and sslscan)\n' "$ROUNDS" "$suites"
printf '  callready tls check        median %.3f s  (%s TCP connections; whole `callready scan` process)\n' "$cr" "$conns"
printf '  sslscan (default)          median %.3f s  ratio %.3f\n' "$ss" "$ratio"
printf '  callready with pace_ms=%s  median %.3f s\n' "$PACE_MS" "$pace"
python3 -c 'import json,sys; print("  server order per version:", json.load(open(sys.argv[1]))["order"])' "$work/cr.json"
if bench_quick; then echo "ok: suite sets identical (quick mode: no timing goal)"; exit 0; fi
ssc=$(median <"$work/t_ssc")
printf '  sslscan (ciphers only)     median %.3f s  ratio %.3f\n' "$ssc" "$(echo "$cr / $ssc" | bc -l)"
bench_row "tls cipher enumeration, $suites suites (median of $ROUNDS)" "$cr" "sslscan" "$ss" >/dev/null
bench_row "tls cipher enumeration, $suites suites (median of $ROUNDS)" "$cr" "sslscan, ciphers only" "$ssc" >/dev/null
if [ "$(echo "$ratio > 0.2" | bc -l)" = 1 ]; then echo "FAIL: ratio $ratio > 0.2"; exit 1; fi
echo "1 passed, 0 failed"
