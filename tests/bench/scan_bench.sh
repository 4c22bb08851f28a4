#!/usr/bin/env bash
# Engine scale: profiles of N/2 DNS + N/2 TCP checks against loopback (a real
# dnsmasq, a real listener): wall time, peak RSS, growth. The peer measured in
# the same run: dig (batch mode) for the same DNS questions and Python's
# connect() for the same TCP connections, one after another.
# quick: N = 50, verdict ready. full: N = 50..400, and the goal of issue 2:
# 400 checks <= 2 s wall, peak RSS <= 30 MB.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
for p in dnsmasq dig /usr/bin/time python3; do
  command -v "$p" >/dev/null || { echo "SKIP: scan_bench: $p missing (scripts/install-deps.sh)"; exit 77; }
done
bench_loopback
tmp=$BENCH_DIR
if bench_quick; then SIZES="50"; else SIZES="50 100 200 400"; fi

records=()
for i in $(seq 1 200); do records+=("--host-record=h$i.bench.test,203.0.113.$((i % 250 + 1))"); done
# dnsmasq on a free port; picked again if the port was taken before dnsmasq bound it.
for attempt in 1 2 3 4 5; do
  dns_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --port="$dns_port" --pid-file="$tmp/dnsmasq.pid" --user=root \
    --local=/bench.test/ --dns-forward-max=1000 "${records[@]}" 2>"$tmp/dnsmasq.log" &
  dns_pid=$!
  WAIT_PID=$dns_pid wait_until 5 dns_answers 127.0.0.1 "$dns_port" h1.bench.test && break
  kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null
  dns_pid=
  grep -qi "in use" "$tmp/dnsmasq.log" || break
done
[ -n "$dns_pid" ] || { echo "FAIL: dnsmasq does not answer"; cat "$tmp/dnsmasq.log"; exit 1; }
BENCH_PIDS+=("$dns_pid")

python3 - "$tmp/tcp_port" <<'PY' &
import os, socket, sys, time, select
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1024)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])  # the file appears whole, once listening
end = time.time() + 600
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        c, _ = s.accept(); c.close()
PY
BENCH_PIDS+=($!)
WAIT_PID=$! wait_until 5 test -s "$tmp/tcp_port" || { echo "FAIL: the TCP listener did not start"; exit 1; }
tcp_port=$(cat "$tmp/tcp_port")

make_profile() {  # N -> file
  local n=$1 half=$(($1 / 2)) f="$tmp/p$1.json"
  {
    echo '{"name":"bench","description":"scale bench","checks":['
    for i in $(seq 1 "$half"); do
      echo "{\"id\":\"dns-$i\",\"kind\":\"dns\",\"category\":\"dns\",\"params\":{\"name\":\"h$i.bench.test\",\"type\":\"A\"}},"
    done
    for i in $(seq 1 "$half"); do
      sep=","; [ "$i" = "$half" ] && sep=""
      echo "{\"id\":\"tcp-$i\",\"kind\":\"tcp\",\"category\":\"tcp\",\"params\":{\"host\":\"127.0.0.1\",\"port\":$tcp_port}}$sep"
    done
    echo ']}'
  } > "$f"
  echo "$f"
}

measure() {  # N -> "wall_s rss_kb verdict"
  local f; f=$(make_profile "$1")
  /usr/bin/time -v -o "$tmp/time.txt" "$CALLREADY" scan --profile "$f" --dns-server "127.0.0.1:$dns_port" \
    --concurrency 64 -q -o "$tmp/r$1.json" >/dev/null 2>&1
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); print t[1] * 60 + t[2]}' "$tmp/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$tmp/r$1.json")
  echo "$wall $rss $verdict"
}

peer() {  # N -> wall seconds for the same work done by dig + python, sequentially
  local half=$(($1 / 2))
  for i in $(seq 1 "$half"); do echo "h$i.bench.test A"; done > "$tmp/dig.txt"
  python3 - "$dns_port" "$tmp/dig.txt" "$tcp_port" "$half" <<'PY'
import subprocess, socket, sys, time
start = time.time()
subprocess.run(["dig", "@127.0.0.1", "-p", sys.argv[1], "+tries=1", "+time=2", "-f", sys.argv[2]],
               stdout=subprocess.DEVNULL, check=True)
for _ in range(int(sys.argv[4])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=2); s.close()
print(round(time.time() - start, 3))
PY
}

echo "checks  callready_s  peak_rss_MB  verdict  peer(dig+connect)_s  ratio"
fail=0
for n in $SIZES; do
  read -r wall rss verdict <<<"$(measure "$n")"
  pw=$(peer "$n")
  ratio=$(python3 -c "print(round($wall / $pw, 2) if $pw > 0 else 'n/a')")
  printf "%6d  %11s  %11s  %7s  %19s  %5s\n" "$n" "$wall" "$(python3 -c "print(round($rss/1024, 1))")" "$verdict" "$pw" "$ratio"
  [ "$verdict" = ready ] || { echo "FAIL: $n checks: verdict $verdict"; fail=1; }
  bench_row "scan of $n checks (DNS + TCP, loopback)" "$wall" "dig -f + connect()" "$pw" >/dev/null
  if [ "$n" = 400 ]; then
    python3 -c "import sys; sys.exit(0 if $wall <= 2.0 else 1)" || { echo "FAIL: 400 checks took $wall s (goal 2 s)"; fail=1; }
    python3 -c "import sys; sys.exit(0 if $rss <= 30 * 1024 else 1)" || { echo "FAIL: peak RSS $rss kB (goal 30 MB)"; fail=1; }
  fi
done
[ $fail = 0 ] && echo "scan_bench: 1 passed, 0 failed" || echo "scan_bench: 0 passed, 1 failed"
exit $fail
