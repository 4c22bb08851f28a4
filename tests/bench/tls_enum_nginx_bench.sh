#!/bin/bash
# TLS enumeration of the server shapes sites really run: one loopback nginx
# (RSA certificate, `ssl_prefer_server_ciphers on`, TLS 1.2 + 1.3) with 5, 12
# and 20 accepted suites, one server each. callready's tls check (the whole
# `callready scan` process) against sslscan on each, in the same run, ROUNDS
# rounds, medians compared; the suite sets must be identical in every round.
# The issue's goal is <= 0.15 x sslscan on every shape; the ratios are
# reported (scripts/bench.sh's table), the suite sets asserted.
# quick: the 12-suite shape, 1 round, suite sets only.
# Env: CALLREADY (binary), SOURCE_DIR; ROUNDS (default 5).
set -euo pipefail
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
. "$SOURCE_DIR/tests/bench/tls_bench_lib.sh"
if bench_quick; then ROUNDS=1; else ROUNDS=${ROUNDS:-5}; fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "SKIP: nginx missing"; exit 77; }
for p in openssl sslscan python3 bc; do command -v "$p" >/dev/null || { echo "SKIP: $p missing"; exit 77; }; done
[ -x "$CALLREADY" ] || { echo "SKIP: $CALLREADY not built"; exit 77; }

bench_loopback
work=$BENCH_DIR
bash "$SOURCE_DIR/tests/fixtures/tls/make_certs.sh" "$work/pki" >/dev/null
cat "$work/pki/leaf.pem" "$work/pki/inter.pem" >"$work/pki/chain.pem"

# TLS 1.2 suites per shape (TLS 1.3 adds OpenSSL's 3 default suites to each).
declare -A TLS12=(
  [5]="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
  [12]="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384"
  [20]="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:CAMELLIA128-SHA:CAMELLIA256-SHA:ARIA128-GCM-SHA256:ARIA256-GCM-SHA384"
)
if bench_quick; then SHAPES=(12); else SHAPES=(5 12 20); fi

declare -A PORT
start_nginx() {
  local n
  mkdir -p "$work/nginx"
  {
    echo "worker_processes 1; error_log $work/nginx/error.log; pid $work/nginx/nginx.pid;"
    echo "events { worker_connections 512; }"
    echo "http { access_log off;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $work/nginx/$t;"; done
    for n in "${SHAPES[@]}"; do
      echo "  server { listen 127.0.0.1:${PORT[$n]} ssl; ssl_certificate $work/pki/chain.pem;"
      echo "    ssl_certificate_key $work/pki/leaf.key; ssl_protocols TLSv1.2 TLSv1.3;"
      echo "    ssl_prefer_server_ciphers on; ssl_ciphers ${TLS12[$n]}; return 200 ok; }"
    done
    echo "}"
  } >"$work/nginx/nginx.conf"
  "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g "daemon off;" >"$work/nginx/out" 2>&1 &
  server_pid=$!
  BENCH_PIDS+=("$server_pid")
  for n in "${SHAPES[@]}"; do WAIT_PID=$server_pid wait_until 5 tcp_accepts 127.0.0.1 "${PORT[$n]}" || return 1; done
}
server_pid=
for attempt in 1 2 3 4 5; do
  for n in "${SHAPES[@]}"; do PORT[$n]=$(free_tcp_port); done
  [ "$(printf '%s\n' "${PORT[@]}" | sort -u | wc -l)" = "${#SHAPES[@]}" ] || continue
  start_nginx && break
  kill "$server_pid" 2>/dev/null || true
  server_pid=
  grep -qi "in use" "$work/nginx/error.log" "$work/nginx/out" 2>/dev/null || break
done
[ -n "$server_pid" ] || { echo "FAIL: nginx did not start"; cat "$work/nginx/error.log" "$work/nginx/out" 2>/dev/null; exit 1; }

fail=0
for n in "${SHAPES[@]}"; do
  tls_profile "$work/nginx-$n.json" 127.0.0.1 "${PORT[$n]}" "$work/pki/root.pem"
  : >"$work/t_cr"
  : >"$work/t_ss"
  for i in $(seq "$ROUNDS"); do
    run_callready "$work/nginx-$n.json" "$work/cr.txt" "$work/cr.json" >>"$work/t_cr"
    run_sslscan "127.0.0.1:${PORT[$n]}" "$work/ss.txt" >>"$work/t_ss"
    if ! diff "$work/cr.txt" "$work/ss.txt" >/dev/null; then
      echo "FAIL: nginx $n suites: suite sets differ (callready < > sslscan)"
      diff "$work/cr.txt" "$work/ss.txt" || true
      fail=1
      break
    fi
  done
  suites=$(wc -l <"$work/cr.txt")
  [ "$suites" = "$n" ] || { echo "FAIL: nginx $n suites: $suites accepted"; fail=1; }
  cr=$(median <"$work/t_cr")
  ss=$(median <"$work/t_ss")
  printf 'nginx, %2d suites: callready median %.3f s (%s TCP connections), sslscan %.3f s, ratio %.3f (goal <= 0.15)\n' \
    "$n" "$cr" "$(connections_used "$work/cr.json")" "$ss" "$(echo "$cr / $ss" | bc -l)"
  bench_quick || bench_row "tls enumeration, nginx with $n suites (median of $ROUNDS)" "$cr" "sslscan" "$ss" >/dev/null
done
[ $fail = 0 ] && echo "1 passed, 0 failed"
exit $fail
