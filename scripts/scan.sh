#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build, and
# run `callready scan` with the embedded default profile (webex-calling).
# Arguments are passed to `callready scan` (e.g. --set domain=example.com).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh" --build-only
"$here/scripts/build.sh" >&2
exec "$here/build/callready" scan "$@"
