# shellcheck shell=bash
# Shared by the loopback benches: a work dir, PID-tracked children, free ports.
: "${CALLREADY:?}" "${SOURCE_DIR:?}"
BENCH_DIR="$(mktemp -d /tmp/callready-bench.XXXXXX)"
BENCH_PIDS=()
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$BENCH_DIR"
}
trap bench_cleanup EXIT

# Prints "FIRST CONTROL": a block of $1 UDP ports free on 127.0.0.1 and a free TCP port.
bench_free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
def free_block():
    for _ in range(50):
        first = random.randint(20000, 60000 - n)
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); socks.append(s)
            return first
        except OSError:
            pass
        finally:
            for s in socks: s.close()
    sys.exit("no free block of UDP ports")
s = socket.socket(); s.bind(("127.0.0.1", 0)); ctl = s.getsockname()[1]; s.close()
print(free_block(), ctl)
PY
}

# Waits until TCP port $1 on 127.0.0.1 accepts (10 s at most).
bench_wait_tcp() {
  local i
  for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
