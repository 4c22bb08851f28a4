#!/usr/bin/env bash
# The ice tests under ThreadSanitizer: the libnice agent runs its GLib main
# loop on a thread of its own, bridged to the Asio loop, on the client (the
# test binary) and in `callready respond --ice` (which the integration test
# starts; it is the TSan build's binary too).
#
#   ./scripts/tsan.sh [TEST_FILE...]   (default: ice_judge_test ice_loopback_test)
#
# Configures build-tsan/ ($TSAN_BUILD_DIR) with -fsanitize=thread, builds
# callready and the executables holding the named files (tests/unit/<name>.cpp,
# tests/integration/<name>.cpp), runs those files' cases and prints each race
# found (reports of every process, the responders' included, land in
# build-tsan/tsan-logs/). Exit 0: the tests passed and TSan reported nothing.
# GLib and libnice are not instrumented: tests/tsan/suppressions.txt says
# what that hides and why. Not part of CI: a third build beside build/ and
# the sanitized build-asan/ (scripts/test.sh) does not fit its 30 minutes.
# On a shared machine the build runs at nice 10 and takes
# $CALLREADY_BUILD_LOCK (flock) $TSAN_CHUNK files at a time, so other builds
# interleave with it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${TSAN_BUILD_DIR:-$here/build-tsan}"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(ice_judge_test ice_loopback_test)
case " ${tests[*]} " in *" -h "* | *" --help "*) sed -n '2,18p' "$0"; exit 0 ;; esac

locked() {
  local lock="${CALLREADY_BUILD_LOCK:-/tmp/callready-build.lock}"
  if command -v flock >/dev/null 2>&1; then flock "$lock" nice -n 10 "$@"; else nice -n 10 "$@"; fi
}

if [ ! -f "$build/CMakeCache.txt" ]; then
  # -O1: what TSan's documentation advises (readable stacks, a tolerable
  # slowdown), and quicker to compile than the default -O2.
  locked cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
fi

# Every compile the targets need, in ninja's order, $TSAN_CHUNK files per
# lock (default 8, about a minute under TSan at -O1; TSAN_CHUNK=40 takes its
# turns less often); the last chunk with the libraries and links in one go.
# The executable of each file's label (tests/CMakeLists.txt: one per label).
targets=(callready)
declare -A label_of
for t in "${tests[@]}"; do
  for label in unit integration; do
    [ -f "$here/tests/$label/$t.cpp" ] && label_of[$t]=$label
  done
  [ -n "${label_of[$t]:-}" ] || { echo "tsan.sh: no tests/unit/$t.cpp or tests/integration/$t.cpp" >&2; exit 2; }
  case " ${targets[*]} " in *" ${label_of[$t]}_tests "*) ;; *) targets+=("${label_of[$t]}_tests") ;; esac
done
mapfile -t outputs < <(ninja -C "$build" -t commands "${targets[@]}" |
  sed -n 's/.* -o \([^ ]*\.\(o\|gch\)\) -c .*/\1/p')
jobs=$(($(nproc) < 2 ? $(nproc) : 2))
chunk=${TSAN_CHUNK:-8}
for ((i = 0; i + chunk < ${#outputs[@]}; i += chunk)); do
  # Built already (by an earlier chunk or run): no need to queue for the lock;
  # the final step below still rebuilds whatever a source change made stale.
  missing=0
  for o in "${outputs[@]:i:chunk}"; do [ -f "$build/$o" ] || missing=1; done
  [ $missing = 1 ] || continue
  locked ninja -C "$build" -j"$jobs" "${outputs[@]:i:chunk}" >/dev/null ||
    { locked ninja -C "$build" -j1 "${outputs[@]:i:chunk}"; exit 1; }
done
locked ninja -C "$build" -j"$jobs" "${targets[@]}" >/dev/null

logs="$build/tsan-logs"
rm -rf "$logs"
mkdir -p "$logs"
# log_path: each process (the test and every responder it starts) writes its
# own file, logs/report.<pid>; halt_on_error=0 to see every race in one run.
export TSAN_OPTIONS="suppressions=$here/tests/tsan/suppressions.txt log_path=$logs/report halt_on_error=0 second_deadlock_stack=1 history_size=4"
failed=0
for t in "${tests[@]}"; do
  bin="$build/tests/${label_of[$t]}_tests"
  start=$(date +%s)
  if "$bin" "--source-file=*/$t.cpp" >"$logs/$t.out" 2>&1; then status=passed; else status="FAILED (exit $?)"; failed=1; fi
  printf '%-20s %s in %d s: %s\n' "$t" "$status" $(($(date +%s) - start)) "$(grep -E '^\[doctest\] (test cases|assertions)' "$logs/$t.out" | tr '\n' ' ')"
done

races=$(cat "$logs"/report.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
echo "ThreadSanitizer: $races report(s) from $(find "$logs" -name 'report.*' | wc -l) process(es) with any"
if [ "$races" -gt 0 ]; then
  failed=1
  grep -h '^SUMMARY: ThreadSanitizer' "$logs"/report.* | sort | uniq -c | sort -rn
  echo "first report ($logs):"
  awk '/^WARNING: ThreadSanitizer/{n++} n==1' "$logs"/report.* | head -60
fi
exit $failed
