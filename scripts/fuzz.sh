#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang, ASan and
# UBSan into build-fuzz/, then runs each for SECONDS (default 60):
#
#   ./scripts/fuzz.sh [--seconds N] [--merge] [TARGET...]     (TARGET: stun, sip, ...)
#
# Each target starts from the committed corpus (tests/fuzz/corpus/<target>/)
# and keeps what it finds in build-fuzz/corpus/<target>/; a crash is written
# to build-fuzz/crashes/ and fails the run. --merge folds the new inputs that
# add coverage into the committed corpus (commit them with any crash input:
# the normal suite replays the corpus as fuzz:regression under GCC).
# Installs clang-16 and libclang-rt-16-dev when no clang >= 16 is there (root).
# On a shared machine the build takes $CALLREADY_BUILD_LOCK (flock) one
# library at a time, so other builds interleave.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$here/build-fuzz}"
seconds=60
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds wants a whole number" >&2; exit 2 ;; esac

# clang 16 or later: clang 14 (bookworm's default) rejects lambdas that
# capture structured bindings (C++20 P1091), which the checks use.
pick_clang() {
  local v
  for v in 19 18 17 16; do
    command -v "clang++-$v" >/dev/null 2>&1 &&
      ls /usr/lib/llvm-$v/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
      { echo "$v"; return 0; }
  done
  return 1
}
if [ -z "${FUZZ_CLANG_VERSION:-}" ] && ! FUZZ_CLANG_VERSION=$(pick_clang); then
  if [ "$(id -u)" != 0 ]; then echo "fuzz.sh: needs clang-16 and libclang-rt-16-dev (run as root to install)" >&2; exit 1; fi
  apt-get install -y --no-install-recommends clang-16 libclang-rt-16-dev >/dev/null
  FUZZ_CLANG_VERSION=16
fi

locked() {
  local lock="${CALLREADY_BUILD_LOCK:-/tmp/callready-build.lock}"
  if command -v flock >/dev/null 2>&1; then flock "$lock" "$@"; else "$@"; fi
}

if [ -f "$build/CMakeCache.txt" ] &&
   ! grep -q "^CMAKE_CXX_COMPILER:.*clang++-$FUZZ_CLANG_VERSION\$" "$build/CMakeCache.txt"; then
  echo "fuzz.sh: $build was configured with another compiler; remove it first" >&2
  exit 2
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  locked cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="clang-$FUZZ_CLANG_VERSION" -DCMAKE_CXX_COMPILER="clang++-$FUZZ_CLANG_VERSION" -DCALLREADY_FUZZ=ON -DCALLREADY_TESTS=OFF >/dev/null
fi
all=()
for src in "$here"/tests/fuzz/*_fuzz.cpp; do
  name=$(basename "$src" _fuzz.cpp)
  all+=("$name")
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "$here/tests/fuzz/${t}_fuzz.cpp" ] || { echo "fuzz.sh: no target \"$t\" (have: ${all[*]})" >&2; exit 2; }
done

# The shared core first, then one target per lock: other builds on the
# machine interleave. A target that does not build is reported, the rest run.
jobs=$(( $(nproc) < 2 ? $(nproc) : 2 ))
locked cmake --build "$build" --target callready_base -j"$jobs"
built=()
summary=""
failed=0
for t in "${targets[@]}"; do
  if locked cmake --build "$build" --target "${t}_fuzz" -j"$jobs" >"$build/${t}.build.log" 2>&1; then
    built+=("$t")
  else
    failed=1
    summary+=$(printf '%-12s BUILD FAILED: see %s\n' "$t" "$build/${t}.build.log")$'\n'
    grep -m3 "error:" "$build/${t}.build.log" || true
  fi
done

mkdir -p "$build/crashes"
for t in "${built[@]}"; do
  mkdir -p "$build/corpus/$t"
  log="$build/${t}.log"
  echo "== $t: ${seconds} s"
  set +e
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$build/${t}_fuzz" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/crashes/${t}-" \
    "$build/corpus/$t" "$here/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    failed=1
    summary+=$(printf '%-12s FAILED (exit %s): see %s and %s/crashes/\n' "$t" "$rc" "$log" "$build")$'\n'
    grep -m5 -E "ERROR|runtime error|invariant failed" "$log" || true
  else
    summary+=$(printf '%-12s %12s executions  %8s/s  0 crashes\n' "$t" "${execs:-?}" "${rate:-?}")$'\n'
  fi
  if [ $merge = 1 ]; then
    "$build/${t}_fuzz" -merge=1 "$here/tests/fuzz/corpus/$t" "$build/corpus/$t" >>"$log" 2>&1 || true
  fi
done
echo
printf '%s' "$summary"
exit $failed
