#!/usr/bin/env bash
# All tests on a fresh Debian 12 machine: install dependencies (build and the
# real peers the tests drive), build, run every test through ctest.
# Lab tests need root (network namespaces); without it they report skipped.
#
# Two build directories, each compiled once:
#   build/       the binary that ships (the distribution's hardening flags),
#                driven from outside by the cli, lab, bench, abuse, style and
#                package tests;
#   build-asan/  the unit, integration and fuzz-regression executables and the
#                binary they start, under AddressSanitizer + UBSan at -O0.
# Arguments go to both ctest runs (e.g. -R stun). Exit 1 if either failed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
asan="${ASAN_BUILD_DIR:-$here/build-asan}"
"$here/scripts/install-deps.sh"
# -g1 (line tables): the binary is tested, not debugged; full debug info
# costs a quarter of this build's time.
BUILD_DIR="$build" "$here/scripts/build.sh" -DCALLREADY_DOCTESTS=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$asan/CMakeCache.txt" ]; then
  # -O0 -g1: a sanitizer build compiles at the cost of a plain -O2 one (UBSan
  # at -O1 triples it) and reports file:line; gold links the large sanitized
  # executables several times quicker than ld.bfd.
  cmake -S "$here" -B "$asan" "${generator[@]}" -DASAN=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DCMAKE_EXE_LINKER_FLAGS="-fuse-ld=gold" >/dev/null
fi
cmake --build "$asan" -j"$(nproc)" --target callready unit_tests integration_tests fuzz_regression

status=0
(cd "$build" && ctest --output-on-failure --timeout 900 -j2 "$@") || status=1
(cd "$asan" && ctest --output-on-failure --timeout 900 -j2 -L '^(unit|integration|fuzz-regression)$' "$@") ||
  status=1
exit $status
