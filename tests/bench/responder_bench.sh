#!/usr/bin/env bash
# `callready respond` on loopback pinned to one core: probes answered per
# second of its CPU time (the load generator runs on the other core), and its
# RSS with 1,000 UDP ports bound. Figures only; it fails if the responder
# cannot bind 1,000 ports or answers nothing.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
read -r FIRST CONTROL < <(bench_free_ports 1000)
LAST=$((FIRST + 999))
CPU0=0
CPU1=$(($(nproc) > 1 ? 1 : 0))
taskset -c "$CPU0" "$CALLREADY" respond --listen "127.0.0.1:$CONTROL" --bind 127.0.0.1 --udp-ports "$FIRST-$LAST" \
  --token bench --max-pps 100000000 --log-level info 2>"$BENCH_DIR/responder.log" &
RPID=$!
BENCH_PIDS+=($RPID)
bench_wait_tcp "$CONTROL" || { echo "FAIL: responder did not start"; cat "$BENCH_DIR/responder.log"; exit 1; }
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$RPID/status")
fds=$(ls "/proc/$RPID/fd" | wc -l)
echo "responder RSS with 1000 UDP ports bound: $((rss_kb / 1024)).$(((rss_kb % 1024) * 10 / 1024)) MiB ($rss_kb kB, $fds fds)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$RPID/stat"; }
before=$(cpu_ticks)
# Load: pre-encoded authenticated probes (same format as probe/wire/echo_probe.hpp), 4 s, bounded.
taskset -c "$CPU1" python3 - "$FIRST" bench 4 <<'PY' >"$BENCH_DIR/load.txt"
import hmac, hashlib, socket, struct, sys, time
first, token, seconds = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
pkts = []
for i in range(1000):
    head = b"CRPB" + bytes([1, 1]) + struct.pack(">HQIQ", 2, 0xbe4c, i, 0) + bytes(64 - 28)
    pkts.append((head + hmac.new(token, head, hashlib.sha256).digest(), ("127.0.0.1", first + i)))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
sent, end = 0, time.time() + seconds
while time.time() < end:
    for p, dst in pkts:
        try:
            s.sendto(p, dst); sent += 1
        except BlockingIOError:
            pass
print(sent)
PY
after=$(cpu_ticks)
kill -TERM "$RPID"; wait "$RPID"
BENCH_PIDS=()
sent=$(cat "$BENCH_DIR/load.txt")
answered=$(sed -n 's/.*responder stopped: \([0-9]*\) probes answered.*/\1/p' "$BENCH_DIR/responder.log")
hz=$(getconf CLK_TCK)
cpu_s=$(awk "BEGIN{print ($after - $before) / $hz}")
[ -n "$answered" ] && [ "$answered" -gt 0 ] || { echo "FAIL: nothing answered"; cat "$BENCH_DIR/responder.log"; exit 1; }
printf 'load: %d probes sent in 4 s; responder answered %d using %.2f CPU s on one core\n' "$sent" "$answered" "$cpu_s"
printf 'responder throughput: %.0f probes/s offered-and-answered, %.0f probes per CPU second (one core)\n' \
  "$(awk "BEGIN{print $answered / 4}")" "$(awk "BEGIN{print $answered / $cpu_s}")"
