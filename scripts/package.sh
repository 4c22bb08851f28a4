#!/usr/bin/env bash
# Builds the Debian package: installs what the build needs (only what is
# missing), builds the callready target with dpkg-buildflags' hardening in
# build/package/obj, leaves build/package/callready_<version>_<arch>.deb and
# runs lintian on it (any error or warning fails). Root, or a user with sudo.
#   ./scripts/package.sh && sudo apt-get install ./build/package/callready_*.deb
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
out=build/package

"$here/scripts/install-deps.sh" --build-only
tools=(debhelper devscripts lintian dpkg-dev fakeroot)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "package: installing ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One version: CMake's project() is the source of truth; the changelog, the
# man page and the binary must agree with it.
version=$(sed -n 's/^project(callready VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
changelog=$(dpkg-parsechangelog -S Version)
if [ "${changelog%%-*}" != "$version" ]; then
  echo "package: debian/changelog says $changelog, CMakeLists.txt says $version: add a changelog entry (dch -v $version)" >&2
  exit 1
fi
if ! grep -q "^\.TH CALLREADY 1 .*\"callready $version\"" packaging/callready.1; then
  echo "package: packaging/callready.1 does not name version $version in its .TH line" >&2
  exit 1
fi

mkdir -p "$out"
rm -f "$out"/callready_*.deb "$out"/callready-dbgsym_*.deb "$out"/callready_*.buildinfo "$out"/callready_*.changes
# -nc: keep build/package/obj between runs (a fresh clone builds from
# scratch anyway). dh_clean drops the previous run's stamps and staging
# tree, so every step runs again (ninja rebuilds only what changed).
dh_clean
DEB_BUILD_OPTIONS="parallel=2 nocheck ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -nc -us -uc \
  --buildinfo-option=-u"$out" --changes-option=-u"$out" \
  --buildinfo-file="$out/callready_${changelog}_$(dpkg-architecture -qDEB_HOST_ARCH).buildinfo" \
  --changes-file="$out/callready_${changelog}_$(dpkg-architecture -qDEB_HOST_ARCH).changes"

deb="$out/callready_${changelog}_$(dpkg-architecture -qDEB_HOST_ARCH).deb"
[ -f "$deb" ] || { echo "package: $deb was not built" >&2; exit 1; }
# --fail-on warning: a warning fails the build like an error does.
lintian --fail-on error,warning --display-info "$deb"
echo "package: $deb (lintian: no errors, no warnings)"
