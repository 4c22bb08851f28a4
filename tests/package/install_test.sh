#!/usr/bin/env bash
# The Debian package end to end, as an administrator uses it: build it with
# scripts/package.sh (lintian clean), `apt-get install` it, run the binary,
# the man page and the completion, verify the units (systemd-analyze verify;
# security exposure of the responder <= 2.0), configure the responder and the
# periodic scan as README.Debian says, run their ExecStart lines as systemd
# would (unit_exec.sh: systemd is not PID 1 here) inside a private network
# namespace, scan the loopback-demo profile against the responder, then
# `apt-get purge` and check that nothing is left.
# Root only (it installs a package): otherwise skipped. It packages the
# binary the suite just built and tested ($CALLREADY, through
# CALLREADY_PREBUILT_BINARY); CALLREADY_PACKAGE_FROM_SCRATCH=1 builds the
# package from source instead, as a release does (~10 min on 2 cores).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (apt-get install, namespaces)"; exit 77; fi
if ! unshare -n true 2>/dev/null; then echo "SKIP: cannot create a network namespace"; exit 77; fi
started=$(date +%s)
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d)
made_policy=0
installed=0
dropin=/etc/systemd/system/callready-scan.service.d
cleanup() {
  rm -rf "$dropin"
  [ $installed = 1 ] && dpkg -s callready >/dev/null 2>&1 && apt-get purge -y -qq callready >/dev/null 2>&1
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build (scripts/package.sh)"
prebuilt=""
if [ "${CALLREADY_PACKAGE_FROM_SCRATCH:-0}" != 1 ] && [ -x "${CALLREADY:-}" ]; then prebuilt=$CALLREADY; fi
if ! CALLREADY_PREBUILT_BINARY="$prebuilt" "$SOURCE_DIR/scripts/package.sh" >"$tmp/package.log" 2>&1; then
  tail -40 "$tmp/package.log"
  echo "FAIL: scripts/package.sh"
  exit 1
fi
grep -E '^(E|W|I|N): ' "$tmp/package.log" | sed 's/^/lintian: /'
ok "$(tail -1 "$tmp/package.log")"
version=$(cd "$SOURCE_DIR" && dpkg-parsechangelog -S Version)
deb=$(ls "$SOURCE_DIR"/build/package/callready_"${version}"_*.deb)
# ${shlibs:Depends}: the libraries the binary links dynamically, nothing recommended.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libnice10 libc-ares2 libssl3; do
  grep -q "\b$lib\b" <<<"$depends" && ok "Depends names $lib" || bad "Depends lacks $lib: $depends"
done
[ -z "$(dpkg-deb -f "$deb" Recommends)" ] && ok "no Recommends" || bad "Recommends: $(dpkg-deb -f "$deb" Recommends)"

echo "== install"
if dpkg -s callready >/dev/null 2>&1; then echo "note: callready was installed before; this test purges it"; fi
# Installing must not start services on a machine where systemd runs (CI
# machines differ); policy-rc.d is the standard switch.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
installed=1
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: apt-get install $deb"
  exit 1
fi
ok "apt-get install $(basename "$deb")"
dpkg -L callready | sort >"$tmp/files"

[ "$(callready --version)" = "callready ${version%%-*}" ] && ok "callready --version: $(callready --version)" ||
  bad "callready --version says '$(callready --version)', the package is $version"
profiles=$(callready profiles)
for p in webex-calling loopback-demo; do
  grep -q "^$p " <<<"$profiles" && ok "callready profiles lists $p" || bad "callready profiles lacks $p"
done
[ "$(man -w callready 2>/dev/null)" = /usr/share/man/man1/callready.1.gz ] && ok "man -w callready" ||
  bad "man -w callready: '$(man -w callready 2>&1)'"
MANPAGER=cat MANWIDTH=100 man callready 2>/dev/null | grep -q -- '--token-file' && ok "man callready renders" ||
  bad "man callready does not render the options"
words=$(bash -c '. /usr/share/bash-completion/completions/callready
  COMP_WORDS=(callready sc); COMP_CWORD=1; _callready; echo "${COMPREPLY[*]}"')
[ "$words" = scan ] && ok "bash completion: 'callready sc' -> scan" || bad "bash completion gave '$words'"

echo "== units"
units=(callready-respond.service callready-scan.service callready-scan.timer callready-exporter.service)
for u in "${units[@]}"; do [ -f "/lib/systemd/system/$u" ] || bad "$u not installed"; done
# Other packages' units (irtt's, say) may draw complaints while systemd
# loads them: only lines about ours, or about no unit in particular, count.
if (cd /lib/systemd/system && systemd-analyze verify "${units[@]}") >"$tmp/verify.log" 2>&1 &&
  ! grep -v -e 'network-online.target' -e '^$' -e '^/[^:]*/[^/:]*\.service:' "$tmp/verify.log" | grep -q . &&
  ! grep -q -e '^/[^:]*/callready[^/:]*:' "$tmp/verify.log"; then
  ok "systemd-analyze verify: ${units[*]}"
else
  bad "systemd-analyze verify:"
  cat "$tmp/verify.log"
fi
for u in callready-respond.service callready-scan.service callready-exporter.service; do
  exposure=$(systemd-analyze security --offline=true "/lib/systemd/system/$u" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -n "$exposure" ] && awk "BEGIN{exit !($exposure <= 2.0)}"; then
    ok "systemd-analyze security $u: exposure $exposure (<= 2.0)"
  else
    bad "systemd-analyze security $u: exposure '${exposure}' (goal <= 2.0)"
  fi
done
grep -q '^AmbientCapabilities=$' /lib/systemd/system/callready-respond.service &&
  grep -q '^CapabilityBoundingSet=$' /lib/systemd/system/callready-respond.service &&
  ok "the responder unit grants no capability by default" || bad "the responder unit grants capabilities"
for u in callready-respond.service callready-exporter.service; do
  [ -L "/etc/systemd/system/multi-user.target.wants/$u" ] && ok "$u enabled on install" || bad "$u not enabled"
done
[ ! -e /etc/systemd/system/timers.target.wants/callready-scan.timer ] && ok "callready-scan.timer not enabled on install" ||
  bad "callready-scan.timer was enabled on install"
UNIT_TMP=$tmp bash "$here/unit_exec.sh" callready-respond.service >"$tmp/cond.log" 2>&1
[ $? = 78 ] && ok "the responder does not start before its token exists (ConditionPathExists)" ||
  bad "the responder started without a token: $(cat "$tmp/cond.log")"

echo "== configure as README.Debian says, run the units (private network namespace)"
install -m 0600 /dev/null /etc/callready/respond.token
head -c 24 /dev/urandom | base64 >/etc/callready/respond.token
cp /etc/callready/respond.token /etc/callready/scan.token
chmod 0600 /etc/callready/scan.token
sed -i 's|^CALLREADY_RESPOND_ARGS=.*|CALLREADY_RESPOND_ARGS="--listen 127.0.0.1:7447 --udp-ports 5004,9000,20000-20099 --stun-ports 3478 --sip-ports 15060 --log-level warn"|' \
  /etc/callready/respond.conf
sed -i -e 's|^CALLREADY_SCAN_ARGS=.*|CALLREADY_SCAN_ARGS="--profile loopback-demo --timeout 30"|' \
  -e 's|^CALLREADY_KEEP=.*|CALLREADY_KEEP=2|' /etc/callready/scan.conf
mkdir -p "$dropin"
printf '[Service]\nLoadCredential=token:/etc/callready/scan.token\n' >"$dropin/token.conf"
skip_exporter=0
callready --help | grep -q '^  exporter ' || skip_exporter=1
UNIT_TMP=$tmp SKIP_EXPORTER=$skip_exporter unshare -n bash "$here/services_in_netns.sh" || fail=1

echo "== purge"
rm -rf "$dropin"
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq callready >"$tmp/purge.log" 2>&1; then
  installed=0
  ok "apt-get purge callready"
else
  bad "apt-get purge callready: $(cat "$tmp/purge.log")"
fi
dpkg -s callready >/dev/null 2>&1 && bad "dpkg still knows callready"
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$tmp/files")
[ -z "$left" ] && ok "every file dpkg -L listed is gone ($(wc -l <"$tmp/files") paths)" || bad "left behind: $left"
for p in /etc/callready /var/lib/callready /var/lib/private/callready /usr/libexec/callready \
  /etc/systemd/system/multi-user.target.wants/callready-respond.service; do
  [ -e "$p" ] || [ -L "$p" ] && bad "$p is left after purge" || ok "$p gone"
done
grep -q callready /etc/passwd && bad "a callready user is left in /etc/passwd" ||
  ok "no system user to remove (DynamicUser=yes)"

echo "install test: $(($(date +%s) - started)) s"
[ $fail = 0 ] && echo "package install: passed" || echo "package install: FAILED"
exit $fail
