#!/usr/bin/env bash
# Builds, then runs every bench (tests/bench/*_bench.sh) in full mode, one at a
# time (they measure time: nothing else should run), and prints one table of
# callready's time against the peer measured in the same run. Lab benches need
# root and report skipped without it. Exit 1 if any bench failed.
# Env: BUILD_DIR (default build/); BENCHES="udp_range tls_enum" runs only those.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/build.sh"
build="${BUILD_DIR:-$here/build}"
table=$(mktemp)
trap 'rm -f "$table"' EXIT
export CALLREADY="$build/callready" SOURCE_DIR="$here" BUILD_DIR="$build" BENCH_MODE=full BENCH_TABLE="$table"

passed=() failed=() skipped=()
for script in "$here"/tests/bench/*_bench.sh; do
  name=$(basename "$script" _bench.sh)
  if [ -n "${BENCHES:-}" ] && [[ " $BENCHES " != *" $name "* ]]; then continue; fi
  echo "=== $name"
  rc=0
  bash "$script" || rc=$?
  case $rc in
    0) passed+=("$name") ;;
    77) skipped+=("$name") ;;
    *) failed+=("$name") ;;
  esac
done

echo
echo "=== ratios (callready time / peer time, same run; < 1: callready is faster)"
{
  printf 'work\tcallready s\tpeer\tpeer s\tratio\n'
  cat "$table"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
  END { for (r = 1; r <= n; r++) { for (i = 1; i <= 5; i++) printf "%-*s%s", w[i], c[r, i], (i < 5 ? "  " : "\n") } }'
echo
echo "benches: ${#passed[@]} passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, ${#skipped[@]} skipped${skipped[*]:+ (${skipped[*]})}"
[ ${#failed[@]} -eq 0 ]
