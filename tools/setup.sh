#!/bin/sh
# Installs every Debian package that building, testing and the demo need.
# Safe to run again. Needs root (apt-get).
#
#   tools/setup.sh           install what is missing
#   tools/setup.sh --check   install nothing; check that every command and strongSwan
#                            plugin the tests and the demo use is there, and name the
#                            Debian package of each one that is not (exit 1);
#                            SWAN_PLUGIN_DIR names another plugin folder (tests)
set -e
PACKAGES="
  build-essential autoconf automake libtool pkg-config
  libssl-dev libevent-dev libsodium-dev libgcrypt20-dev libcmocka-dev
  clang libclang-rt-14-dev
  iproute2 nftables iputils-ping procps psmisc conntrack
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
  libcharon-extra-plugins libstrongswan-extra-plugins
  libcharon-extauth-plugins
  iperf3 tshark tcpdump wireguard-go wireguard-tools ike-scan python3 xxd util-linux
  man-db groff-base systemd curl python3-prometheus-client
  debhelper dh-autoreconf dpkg-dev fakeroot passwd debootstrap
  libnetfilter-queue-dev libmnl-dev iptables libbpf-dev
  vsftpd lftp dnsmasq dnsutils tftp-hpa tftpd-hpa sip-tester python3-scapy
  iputils-tracepath traceroute linux-perf
  openssl
"

# Commands the tests, the benchmark and the demo run, each with its package.
COMMANDS="
  autoreconf:autoconf automake:automake libtoolize:libtool pkg-config:pkg-config
  cc:build-essential make:build-essential clang:clang
  ip:iproute2 nft:nftables ping:iputils-ping sysctl:procps conntrack:conntrack
  killall:psmisc nsenter:util-linux unshare:util-linux
  /usr/lib/ipsec/charon:strongswan-charon swanctl:strongswan-swanctl
  iperf3:iperf3 tshark:tshark tcpdump:tcpdump wireguard-go:wireguard-go wg:wireguard-tools
  ike-scan:ike-scan python3:python3 xxd:xxd man:man-db troff:groff-base
  systemd-analyze:systemd curl:curl setpriv:util-linux
  dpkg-buildpackage:dpkg-dev dh:debhelper dh_autoreconf:dh-autoreconf fakeroot:fakeroot
  debootstrap:debootstrap
  groupadd:passwd
  iptables:iptables iptables-legacy:iptables iptables-restore:iptables vsftpd:vsftpd lftp:lftp dnsmasq:dnsmasq dig:dnsutils
  tftp:tftp-hpa in.tftpd:tftpd-hpa sipp:sip-tester tracepath:iputils-tracepath
  traceroute:traceroute perf:linux-perf
  openssl:openssl
"

# charon's plugins and the package each comes in. The interop tests load the plugins
# named on the "load =" line of tests/interop/conf/strongswan.conf.
plugin_package() {
	case "$1" in
	gcm|openssl|aesni|agent) echo libstrongswan-standard-plugins ;;
	chapoly|curve25519) echo libstrongswan-extra-plugins ;;
	kernel-libipsec) echo libcharon-extra-plugins ;;
	eap-md5|eap-identity) echo libcharon-extra-plugins ;;
	eap-mschapv2) echo libcharon-extauth-plugins ;;
	xauth-generic) echo libcharon-extauth-plugins ;;
	socket-default|updown) echo strongswan-libcharon ;;
	vici) echo strongswan-swanctl ;;
	*) echo libstrongswan ;;
	esac
}

here=$(cd "$(dirname "$0")" && pwd)
swan_conf="$here/../tests/interop/conf/strongswan.conf"

# check: prints "missing: WHAT (package P)" for each absent piece; fails if any.
check() {
	bad=0
	for cp in $COMMANDS; do
		cmd=${cp%%:*}
		command -v "$cmd" >/dev/null 2>&1 && continue
		echo "missing: command $cmd (package ${cp#*:})"
		bad=1
	done
	for p in $(sed -n 's/^[[:space:]]*load = //p' "$swan_conf"); do
		[ -f "${SWAN_PLUGIN_DIR:-/usr/lib/ipsec/plugins}/libstrongswan-$p.so" ] && continue
		echo "missing: strongSwan plugin $p (package $(plugin_package "$p"))"
		bad=1
	done
	for lp in libssl:libssl-dev libevent:libevent-dev libsodium:libsodium-dev libgcrypt:libgcrypt20-dev cmocka:libcmocka-dev \
	    libnetfilter_queue:libnetfilter-queue-dev libmnl:libmnl-dev libbpf:libbpf-dev; do
		pkg-config --exists "${lp%%:*}" 2>/dev/null && continue
		echo "missing: library ${lp%%:*} (package ${lp#*:})"
		bad=1
	done
	# t-metrics parses the scrape with the Prometheus client's own parser (Debian's
	# package serves /usr/bin/python3, which another python3 on PATH may hide).
	if ! python3 -c 'import prometheus_client' 2>/dev/null &&
	   ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
		echo "missing: python3 module prometheus_client (package python3-prometheus-client)"
		bad=1
	fi
	# The NAT scenarios craft PPTP/GRE and raw ESP with scapy.
	if ! python3 -c 'import scapy' 2>/dev/null && ! /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
		echo "missing: python3 module scapy (package python3-scapy)"
		bad=1
	fi
	[ $bad = 0 ] && echo "setup: every command, library and plugin is present"
	return $bad
}

if [ "${1:-}" = "--check" ]; then
	check
	exit $?
fi

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
	# Nor the servers of the NAT scenarios (they start their own in namespaces).
	systemctl disable --now vsftpd.service dnsmasq.service tftpd-hpa.service 2>/dev/null || true
fi
check
