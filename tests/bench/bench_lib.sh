# shellcheck shell=bash
# Shared by every bench: the mode, the result table, and (bench_loopback) a
# work dir with PID-tracked children for the benches that run on loopback.
#
# BENCH_MODE=quick: correctness at small sizes in seconds, no timing goals
#   (ctest's default: tests/CMakeLists.txt sets BENCH_MODE_DEFAULT=quick, and
#   timings taken while other tests run mean nothing).
# BENCH_MODE=full: the real sizes, the timing goals, the ratios against the
#   peer measured in the same run (scripts/bench.sh, one bench at a time).
# BENCH_TABLE=FILE: bench_row appends its rows there (scripts/bench.sh prints them).
: "${CALLREADY:?}"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
. "$SOURCE_DIR/tests/support/lib.sh"
BENCH_MODE="${BENCH_MODE:-${BENCH_MODE_DEFAULT:-full}}"
case "$BENCH_MODE" in
  quick | full) ;;
  *) echo "FAIL: BENCH_MODE must be quick or full, not '$BENCH_MODE'" >&2; exit 1 ;;
esac
bench_quick() { [ "$BENCH_MODE" = quick ]; }
echo "bench mode: $BENCH_MODE"

# bench_row WORK CALLREADY_S PEER PEER_S: one row of the table; PEER "-" when
# the bench has no peer. The ratio is callready's time over the peer's (< 1:
# callready is faster).
bench_row() {
  local cr peer_s=- ratio=-
  cr=$(awk "BEGIN{printf \"%.3f\", $2}")
  if [ "$3" != - ] && [ "$4" != - ]; then
    peer_s=$(awk "BEGIN{printf \"%.3f\", $4}")
    ratio=$(awk "BEGIN{printf \"%.3f\", $2 / ($4 > 0 ? $4 : 1e-9)}")
  fi
  printf 'row: %s | callready %s s | %s %s s | ratio %s\n' "$1" "$cr" "$3" "$peer_s" "$ratio"
  [ -n "${BENCH_TABLE:-}" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$cr" "$3" "$peer_s" "$ratio" >>"$BENCH_TABLE"
  return 0
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# bench_loopback: BENCH_DIR and cleanup of the children listed in BENCH_PIDS.
bench_loopback() {
  BENCH_DIR="$(mktemp -d /tmp/callready-bench.XXXXXX)"
  BENCH_PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$BENCH_DIR"
}
