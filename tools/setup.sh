#!/bin/sh
# Installs every Debian package that building, testing and the demo need.
# Safe to run again. Needs root (apt-get).
set -e
PACKAGES="
  build-essential autoconf automake libtool pkg-config
  libssl-dev libevent-dev libsodium-dev libcmocka-dev
  clang libclang-rt-14-dev
  iproute2 nftables iputils-ping procps psmisc
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins libstrongswan-extra-plugins
  iperf3 tshark tcpdump wireguard-go wireguard-tools ike-scan python3 xxd util-linux
"
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "setup: all packages present"
	exit 0
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# charon must not run in the machine's own namespace: the tests start their own.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now strongswan-starter.service strongswan.service 2>/dev/null || true
fi
