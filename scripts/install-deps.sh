#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the lab need.
# Idempotent and non-interactive: packages already present are not touched,
# and apt-get update runs only when something is missing.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libssl-dev libc-ares-dev libnice-dev libglib2.0-dev
  nlohmann-json3-dev doctest-dev libcli11-dev libfmt-dev libkainjow-mustache-dev
  libnetfilter-queue-dev
)
# Real peers and lab tools the tests drive (LAB.md lists what was verified).
# dnsmasq-base, not dnsmasq: the latter starts a system resolver on port 53.
TEST_PKGS=(
  openssl ca-certificates time iproute2 iptables nftables conntrack socat
  dnsutils iputils-tracepath iputils-ping iperf3 sslscan tcpdump coturn
  dnsmasq-base nmap python3 python3-html5lib chromium clang-format
  nginx-light bind9 prometheus libmonitoring-plugin-perl
  irtt chrony ntpsec-ntpdig libfaketime squid-openssl python3-jsonschema sip-tester netcat-openbsd testssl.sh
)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then want+=("${TEST_PKGS[@]}"); fi

# ntpsec's ntpd for tests/lab/ntp_kod_test.sh (chrony never sends a
# kiss-o'-death). The ntpsec package conflicts with chrony and would run a
# clock-setting daemon: only its ntpd binary is extracted, outside $PATH.
NTPSEC_DIR=/usr/local/lib/callready-lab/ntpsec
install_ntpsec_ntpd() {
  [ "${1:-}" != "--build-only" ] || return 0
  [ ! -x "$NTPSEC_DIR/usr/sbin/ntpd" ] || return 0
  local sudo="" tmp
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -qq ntpsec >/dev/null 2>&1); then
    $sudo mkdir -p "$NTPSEC_DIR"
    dpkg-deb --fsys-tarfile "$tmp"/ntpsec_*.deb | $sudo tar -x -C "$NTPSEC_DIR" ./usr/sbin/ntpd
  else
    echo "install-deps: cannot download ntpsec; tests/lab/ntp_kod_test.sh will be skipped" >&2
  fi
  rm -rf "$tmp"
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  install_ntpsec_ntpd "${1:-}"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Services shipped by these packages (coturn) must not start on install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_ntpsec_ntpd "${1:-}"
