#!/usr/bin/env bash
# Every C++ file of the tree is clang-formatted (.clang-format at the root).
# Fix with: clang-format -i $(git ls-files '*.cpp' '*.hpp')
set -u
cd "${SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t files < <(find probe checks reports tests -name '*.cpp' -o -name '*.hpp')
fi
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no C++ files found"; exit 1; }
unformatted=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if [ ${#unformatted[@]} -gt 0 ]; then
  printf 'not clang-formatted: %s\n' "${unformatted[@]}"
  echo "clang-format: 0 passed, 1 failed"
  exit 1
fi
echo "clang-format: ${#files[@]} files formatted"
echo "clang-format: 1 passed, 0 failed"
