#!/usr/bin/env bash
# scripts/scan.sh, the newcomer's first command: it builds the `callready`
# target only (not every test binary), quietly (one line; the compiler's
# output only when the build fails), then runs the scan with the arguments.
# cmake is replaced by a stub on PATH that records its arguments, so no real
# build runs here (the suite's build dir is shared).
set -u
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# install-deps.sh --build-only must have nothing to do here (the suite was built).
"$SOURCE_DIR/scripts/install-deps.sh" --build-only </dev/null >/dev/null 2>&1 ||
  { echo "SKIPPED: build dependencies missing"; exit 77; }

mkdir -p "$tmp/bin" "$tmp/build"
cat >"$tmp/bin/cmake" <<'STUB'
#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
for i in $(seq 1 40); do echo "[$i/113] Building CXX object tests/thing_$i.o"; done
if [ -n "${STUB_FAIL:-}" ]; then echo "thing.cpp:1:1: error: boom" >&2; exit 1; fi
case "$*" in *" -B "*) : >"$STUB_BUILD/CMakeCache.txt" ;; esac
exit 0
STUB
cat >"$tmp/build/callready" <<'STUB'
#!/usr/bin/env bash
echo "callready $*"
STUB
chmod +x "$tmp/bin/cmake" "$tmp/build/callready"

run() {  # run OUT ERR [env...]: scan.sh --set domain=example.test, stub cmake first on PATH
  local out=$1 err=$2
  shift 2
  env PATH="$tmp/bin:$PATH" STUB_LOG="$tmp/cmake.log" STUB_BUILD="$tmp/build" BUILD_DIR="$tmp/build" "$@" \
    bash "$SOURCE_DIR/scripts/scan.sh" --set domain=example.test >"$out" 2>"$err"
}

# First run: no build dir configured yet: configure, then the one target.
: >"$tmp/cmake.log"
run "$tmp/out" "$tmp/err"
rc=$?
[ "$rc" = 0 ] && ok || bad "first run exit $rc: $(cat "$tmp/err")"
grep -q -- "-S $SOURCE_DIR -B $tmp/build" "$tmp/cmake.log" && ok || bad "not configured: $(cat "$tmp/cmake.log")"
grep -qE -- "--build $tmp/build --target callready( |$)" "$tmp/cmake.log" && ok ||
  bad "did not build the callready target only: $(cat "$tmp/cmake.log")"
[ "$(grep -c -- "--build" "$tmp/cmake.log")" = 1 ] && ok || bad "built more than once: $(cat "$tmp/cmake.log")"
[ "$(wc -l <"$tmp/err")" = 1 ] && ok || bad "the build was not quiet: $(cat "$tmp/err")"
grep -q "Building CXX" "$tmp/err" "$tmp/out" && bad "compiler progress shown on success" || ok
[ "$(cat "$tmp/out")" = "callready scan --set domain=example.test" ] && ok || bad "scan not run: $(cat "$tmp/out")"

# Second run: configured already, only the target is built.
: >"$tmp/cmake.log"
run "$tmp/out" "$tmp/err"
[ "$(cat "$tmp/cmake.log")" = "--build $tmp/build --target callready -j$(nproc)" ] && ok ||
  bad "second run: $(cat "$tmp/cmake.log")"

# A failing build shows the compiler's output, says so, and scans nothing.
run "$tmp/out" "$tmp/err" STUB_FAIL=1
rc=$?
[ "$rc" = 3 ] && ok || bad "failed build exit $rc"
grep -q "error: boom" "$tmp/err" && ok || bad "compiler error not shown: $(cat "$tmp/err")"
grep -q "Building CXX object tests/thing_40.o" "$tmp/err" && ok || bad "build log not shown on failure"
grep -q "the build failed" "$tmp/err" && ok || bad "no failure note: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] && ok || bad "scanned after a failed build: $(cat "$tmp/out")"

echo "scan.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
