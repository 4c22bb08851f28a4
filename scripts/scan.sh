#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build, and
# run `callready scan` with the embedded default profile (webex-calling).
# Arguments are passed to `callready scan` (e.g. --set domain=example.com).
# It builds the `callready` target only, quietly: one line while it builds,
# the compiler's output only when the build fails (tests: scripts/test.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
"$here/scripts/install-deps.sh" --build-only
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "callready: building the scanner in $build (a few minutes the first time; quiet unless it fails)" >&2
if ! {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    generator=()
    command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
    cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build" --target callready -j"$(nproc)"
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "callready: the build failed (output above)" >&2
  exit 3
fi
rm -f "$log"
trap - EXIT
exec "$build/callready" scan "$@"
