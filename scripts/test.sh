#!/usr/bin/env bash
# All tests on a fresh Debian 12 machine: install dependencies (build and the
# real peers the tests drive), build, run every test through ctest.
# Lab tests need root (network namespaces); without it they report skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
cd "${BUILD_DIR:-$here/build}"
ctest --output-on-failure --timeout 900 -j2 "$@"
