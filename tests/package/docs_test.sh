#!/usr/bin/env bash
# What ships beside the binary agrees with it (no root, no package build):
# callready(1) documents every option each command's --help lists and names
# the binary's version; debian/changelog's version is CMake's; the bash
# completion offers the commands, each command's options and the profiles.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
CALLREADY=$(realpath "${CALLREADY:-$SOURCE_DIR/build/callready}")
man="$SOURCE_DIR/packaging/callready.1"
pass=0 fail=0
check() { # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $name"; fail=$((fail + 1)); fi
}

commands=$("$CALLREADY" --help | sed -n '/^Subcommands:/,$s/^  \([a-z][a-z-]*\) .*/\1/p')
check "callready --help lists commands" [ -n "$commands" ]
# The page as a reader sees it (groff turns \- into -).
text=$(MANWIDTH=200 man -l "$man" 2>/dev/null)
for cmd in $commands; do
  check "callready($cmd) has a section" grep -q "callready $cmd" <<<"$text"
  for opt in $("$CALLREADY" $cmd --help | grep -oE '^ +(-[a-z],)?--[a-z][a-z0-9-]*' | sed 's/.*--/--/' | sort -u); do
    [ "$opt" = --help ] && continue
    check "callready.1 documents $cmd $opt" grep -qe "$opt" <<<"$text"
  done
done
version=$("$CALLREADY" --version | sed 's/^callready //')
check "callready.1 names version $version" grep -q "^\.TH CALLREADY 1 .*\"callready $version\"" "$man"
cmake_version=$(sed -n 's/^project(callready VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
changelog=$(sed -n '1s/^callready (\([^)]*\)).*/\1/p' "$SOURCE_DIR/debian/changelog")
check "debian/changelog $changelog matches CMake $cmake_version" [ "${changelog%%-*}" = "$cmake_version" ]
check "the binary's version $version matches CMake $cmake_version" [ "$version" = "$cmake_version" ]
check "man renders without warnings" [ -z "$(man -l --warnings "$man" 2>&1 >/dev/null)" ]

complete_words() { # complete_words WORD...: what the completion offers for the last word
  PATH="$(dirname "$CALLREADY"):$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _callready; printf "%s\n" "${COMPREPLY[@]}"' _ "$SOURCE_DIR/packaging/bash-completion/callready" "$@" | sort -u | tr '\n' ' '
}
check "completion: callready sc -> scan" [ "$(complete_words callready sc)" = "scan " ]
check "completion: commands" [ "$(complete_words callready '')" = "$(printf '%s\n' $commands --help --version | sort -u | tr '\n' ' ')" ]
check "completion: scan --tok -> --token --token-file" [ "$(complete_words callready scan --tok)" = "--token --token-file " ]
check "completion: respond --sip" [ "$(complete_words callready respond --sip)" = "--sip-ports " ]
check "completion: --profile loop -> loopback-demo" [ "$(complete_words callready scan --profile loop)" = "loopback-demo " ]
check "completion: profiles show webex-c" [ "$(complete_words callready profiles show webex-c)" = "webex-calling " ]
check "completion: --format" [ "$(complete_words callready scan --format '')" = "json nagios text " ]

echo "package docs: $pass passed, $fail failed"
[ $fail = 0 ]
