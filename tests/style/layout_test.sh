#!/usr/bin/env bash
# The shape ARCHITECTURE.md promises, kept true: a kind is its folder under
# checks/ plus one registry line; the core and the renderers know no kind;
# no check names a vendor or a source document; every kind has judge tests.
set -u
cd "${SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
failed=0
fail() { echo "FAIL: $*"; failed=1; }

hits=$(grep -rl '#include "checks/' reports/ 2>/dev/null)
[ -z "$hits" ] || fail "reports/ includes checks/: $hits"
hits=$(grep -rl '#include "checks/' probe/ 2>/dev/null | grep -v '^probe/registry\.cpp$')
[ -z "$hits" ] || fail "only probe/registry.cpp may include checks/, not: $hits"
hits=$(grep -rliE 'webex|broadworks|[0-9]{3}_[0-9a-f]{16}' checks/ 2>/dev/null)
[ -z "$hits" ] || fail "checks/ names a vendor or a seed document (requirements come from profiles): $hits"
for dir in checks/*/; do
  kind=$(basename "$dir")
  [ "$kind" = common ] && continue
  [ -f "tests/unit/${kind}_judge_test.cpp" ] || fail "kind $kind has no tests/unit/${kind}_judge_test.cpp"
  grep -q "checks/$kind/" probe/registry.cpp || fail "kind $kind is not in probe/registry.cpp"
done
# ctest splits a discovered doctest name at ';' into entries that run nothing.
hits=$(grep -ln 'TEST_CASE("[^"]*;' tests/unit/*.cpp tests/integration/*.cpp 2>/dev/null)
[ -z "$hits" ] || fail "a TEST_CASE name holds ';' (ctest splits it into vacuous tests): $hits"

if [ $failed = 0 ]; then echo "layout: 1 passed, 0 failed"; else echo "layout: 0 passed, 1 failed"; fi
exit $failed
