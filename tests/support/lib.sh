# shellcheck shell=bash
# Shared by the shell tests (cli, lab, bench): wait for a condition with a
# bound instead of sleeping, and pick free loopback ports. Source it:
#
#   . "$SOURCE_DIR/tests/support/lib.sh"
#   wait_until 5 tcp_accepts 127.0.0.1 "$port" || { echo "FAIL: ..."; exit 1; }

# wait_until SECONDS COMMAND...: runs COMMAND every 20 ms until it succeeds
# (0) or SECONDS have passed (1). With WAIT_PID set, gives up (1) as soon as
# that process has exited: a peer that died will never become ready.
wait_until() {
  local limit=$1 end
  shift
  end=$(($(date +%s%N) + limit * 1000000000))
  while :; do
    "$@" && return 0
    [ -n "${WAIT_PID:-}" ] && ! kill -0 "$WAIT_PID" 2>/dev/null && return 1
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.02
  done
}

# tcp_accepts HOST PORT: one connection attempt (bash /dev/tcp), bounded to 1 s.
tcp_accepts() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# dns_answers SERVER PORT [NAME]: one UDP DNS query (A NAME), true when any
# answer with our ID comes back within 0.5 s (NXDOMAIN and REFUSED count: the
# server is up). For "is dnsmasq listening yet".
dns_answers() {
  python3 - "$1" "$2" "${3:-ready.invalid}" <<'PY'
import os, socket, struct, sys
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
qid = int.from_bytes(os.urandom(2), "big")
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
try:
    s.sendto(q, (host, port))
    while True:
        data, _ = s.recvfrom(4096)
        if len(data) >= 12 and int.from_bytes(data[:2], "big") == qid:
            sys.exit(0)
except OSError:
    sys.exit(1)
PY
}

# free_tcp_port: a TCP port free on 127.0.0.1 right now (the kernel's pick).
free_tcp_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# free_udp_block N: the first of N consecutive UDP ports free on 127.0.0.1
# right now, below the kernel's ephemeral range (so the kernel's own picks for
# other tests' sockets do not land in it). Racy by nature: start the server
# with start_with_free_ports, which picks again when a bind fails.
free_udp_block() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
lo = 20000
try:
    hi = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0]) - n
except OSError:
    hi = 32768 - n
for _ in range(100):
    first = random.randint(lo, max(lo, hi))
    socks = []
    try:
        for p in range(first, first + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); socks.append(s); s.bind(("127.0.0.1", p))
        print(first)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks: s.close()
sys.exit("no free block of %d UDP ports" % n)
PY
}

# start_responder_free LOG N [ARGS...]: `$CALLREADY respond` on 127.0.0.1 with a
# kernel-picked control port and N echo ports from a free block, picking again
# (up to 5 times) when a port was taken between the pick and the bind. Waits
# until the control port accepts (the responder opens it last, once every
# service is up). Sets RESPONDER_PID, RESPONDER_CONTROL, RESPONDER_FIRST.
# RESPONDER_WRAP (words) runs it under a wrapper that execs, e.g. "taskset -c 0".
start_responder_free() {
  local log=$1 n=$2 attempt
  shift 2
  for attempt in 1 2 3 4 5; do
    RESPONDER_CONTROL=$(free_tcp_port) && RESPONDER_FIRST=$(free_udp_block "$n") || return 1
    # shellcheck disable=SC2086 # RESPONDER_WRAP is a list of words
    ${RESPONDER_WRAP:-} "$CALLREADY" respond --listen "127.0.0.1:$RESPONDER_CONTROL" --bind 127.0.0.1 \
      --udp-ports "$RESPONDER_FIRST-$((RESPONDER_FIRST + n - 1))" "$@" 2>"$log" &
    RESPONDER_PID=$!
    WAIT_PID=$RESPONDER_PID wait_until 10 tcp_accepts 127.0.0.1 "$RESPONDER_CONTROL" && return 0
    kill "$RESPONDER_PID" 2>/dev/null
    wait "$RESPONDER_PID" 2>/dev/null
    grep -qi "in use" "$log" || break
    echo "responder: a port was taken (attempt $attempt), picking again" >&2
  done
  cat "$log" >&2
  return 1
}
