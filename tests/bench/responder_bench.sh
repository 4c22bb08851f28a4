#!/usr/bin/env bash
# `callready respond` on loopback pinned to one core: probes answered per
# second of its CPU time (the load generator runs on the other core), and its
# RSS with N UDP ports bound. Figures only; it fails if the responder cannot
# bind its ports or answers nothing.
# quick: 100 ports, 1 s of load. full: 1,000 ports, 4 s of load.
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
bench_loopback
if bench_quick; then N=100 SECONDS_LOAD=1; else N=1000 SECONDS_LOAD=4; fi
CPU0=0
CPU1=$(($(nproc) > 1 ? 1 : 0))
RESPONDER_WRAP="taskset -c $CPU0" start_responder_free "$BENCH_DIR/responder.log" "$N" \
  --token bench --max-pps 1000000 --log-level info || { echo "FAIL: responder did not start"; exit 1; }
RPID=$RESPONDER_PID FIRST=$RESPONDER_FIRST
BENCH_PIDS+=("$RPID")
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$RPID/status")
fds=$(ls "/proc/$RPID/fd" | wc -l)
echo "responder RSS with $N UDP ports bound: $((rss_kb / 1024)).$(((rss_kb % 1024) * 10 / 1024)) MiB ($rss_kb kB, $fds fds)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$RPID/stat"; }
before=$(cpu_ticks)
# Load: pre-encoded authenticated probes (same format as probe/wire/echo_probe.hpp), bounded in time.
taskset -c "$CPU1" python3 - "$FIRST" bench "$SECONDS_LOAD" "$N" "$RESPONDER_CONTROL" <<'PY' >"$BENCH_DIR/load.txt"
import hmac, hashlib, json, socket, struct, sys, time
first, token, seconds, n = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3]), int(sys.argv[4])
# With a token, keyed probes are answered only from an address whose control hello opened its session.
with socket.create_connection(("127.0.0.1", int(sys.argv[5])), timeout=5) as c:
    f = c.makefile("rwb")
    nonce = json.loads(f.readline())["nonce"].encode()
    f.write((json.dumps({"op": "hello", "proof": hmac.new(token, nonce, hashlib.sha256).hexdigest()}) + "\n").encode())
    f.flush()
    assert json.loads(f.readline()).get("ok"), "the responder refused the hello"
pkts = []
for i in range(n):
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
printf 'load: %d probes sent in %d s; responder answered %d using %.2f CPU s on one core\n' "$sent" "$SECONDS_LOAD" "$answered" "$cpu_s"
printf 'responder throughput: %.0f probes/s offered-and-answered, %.0f probes per CPU second (one core)\n' \
  "$(awk "BEGIN{print $answered / $SECONDS_LOAD}")" "$(awk "BEGIN{print $answered / ($cpu_s > 0 ? $cpu_s : 0.01)}")"
bench_row "responder: CPU s to answer $answered probes on $N ports" "$cpu_s" - -
