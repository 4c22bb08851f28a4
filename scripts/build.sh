#!/usr/bin/env bash
# Configures and builds callready into build/ (or $BUILD_DIR). Extra args go to cmake.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  # The distribution's hardening flags, as debian/rules uses them: the
  # package test packages the binary this build makes and the suite tests.
  if command -v dpkg-buildflags >/dev/null 2>&1; then
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all
    export CXXFLAGS="${CXXFLAGS:-$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)}"
    export LDFLAGS="${LDFLAGS:-$(dpkg-buildflags --get LDFLAGS)}"
  fi
  cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
elif [ $# -gt 0 ]; then
  cmake -S "$here" -B "$build" "$@" >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
