#!/bin/bash
# The ESP engine's real I/O without IKE: two esp_node gateways (tests/interop/esp_node.c)
# in two namespaces, SAs and policies installed by hand through PF_KEY, and a ping
# from 10.1.0.1 (behind A) to 10.2.0.1 (behind B) through the TUN devices, first over
# raw ESP (protocol 50), then UDP-encapsulated (port 4500). Prints PASS:/FAIL:/SKIP:.
#   BUILD=DIR  build directory holding tests/interop/esp_node (default ../../build-check)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../../build-check}
NODE=$BUILD/tests/interop/esp_node
NAME=esp-raw

skip() { echo "SKIP: $NAME ($*)"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "no ip command"
[ -x "$NODE" ] || skip "no $NODE: build it first (make tests/interop/esp_node)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

NS_A=tse$$-a
NS_B=tse$$-b
WORK=$(mktemp -d /tmp/esp-raw.XXXXXX)
RESULT=""

cleanup() {
	for ns in $NS_A $NS_B; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.3
	for ns in $NS_A $NS_B; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$RESULT" ] || echo "FAIL: $NAME (interrupted)"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	RESULT=FAIL
	echo "FAIL: $NAME: $*"
	for f in "$WORK"/*.log; do
		[ -s "$f" ] && { echo "    --- $f"; tail -n 15 "$f" | sed 's/^/    | /'; }
	done
	exit 1
}

ip netns add $NS_A && ip netns add $NS_B || skip "cannot create namespaces"
ip link add va netns $NS_A type veth peer name vb netns $NS_B || fail "cannot create veth"
for side in A B; do
	if [ $side = A ]; then ns=$NS_A dev=va out=192.0.2.1 in=10.1.0.1
	else ns=$NS_B dev=vb out=192.0.2.2 in=10.2.0.1; fi
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add $out/24 dev $dev
	ip -n "$ns" link set $dev up
	ip -n "$ns" addr add $in/32 dev lo
done

wait_ready() {
	for _ in $(seq 50); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# run_mode LABEL [--udp]: start both nodes, ping, stop them, check their counters.
run_mode() {
	local label=$1; shift
	ip netns exec $NS_A "$NODE" --local 192.0.2.1 --remote 192.0.2.2 --lnet 10.1.0.0/16 \
		--rnet 10.2.0.0/16 --spi-out 0x1001 --spi-in 0x2002 "$@" >"$WORK/$label-a.log" 2>&1 &
	local pa=$!
	ip netns exec $NS_B "$NODE" --local 192.0.2.2 --remote 192.0.2.1 --lnet 10.2.0.0/16 \
		--rnet 10.1.0.0/16 --spi-out 0x2002 --spi-in 0x1001 "$@" >"$WORK/$label-b.log" 2>&1 &
	local pb=$!
	wait_ready "$WORK/$label-a.log" || fail "$label: node A did not start"
	wait_ready "$WORK/$label-b.log" || fail "$label: node B did not start"
	ip netns exec $NS_A ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 >"$WORK/$label-ping.log" 2>&1 ||
		fail "$label: no ping through the tunnel"
	kill "$pa" "$pb"
	wait "$pa" "$pb" 2>/dev/null
	local sa sb
	sa=$(grep '^out packets' "$WORK/$label-a.log")
	sb=$(grep '^out packets' "$WORK/$label-b.log")
	# Each side sent and received at least the three echoes.
	for s in "$sa" "$sb"; do
		read -r _ _ o _ _ i _ _ _ _ _ _ <<<"$s"
		[ "${o:-0}" -ge 3 ] && [ "${i:-0}" -ge 3 ] || fail "$label: counters too low: '$s'"
	done
	# The routing rule and the TUN device's routes were removed with the engine.
	ip -n $NS_A rule | grep -q 'lookup 220' && fail "$label: rule left behind"
	return 0
}

run_mode raw
run_mode udp --udp
RESULT=PASS
echo "PASS: $NAME (ping through raw ESP and ESP-in-UDP)"
