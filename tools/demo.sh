#!/bin/bash
# The demo: tsunagid at site-a (behind a masquerading NAT) builds an IKEv2 tunnel to
# strongSwan at site-b, in network namespaces on this machine:
#   host-a 10.1.0.10 - site-a [tsunagid] - NAT - site-b [strongSwan] - host-b 10.2.0.10
# It installs packages if needed (tools/setup.sh), builds tsunagi in build-demo/, shows
# both sides' SA lists, pings host-b from host-a and runs a short iperf3. Everything it
# creates is removed when it ends (also on Ctrl-C). Needs root.
#   DEMO_SECONDS=N   length of the iperf3 run (default 5)
#   DEMO_BUILD=DIR   build directory (default build-demo/ in the source tree)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${DEMO_BUILD:-$top/build-demo}
say() { printf '\n== %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)"; exit 1; }
if ! sh "$top/tools/setup.sh" --check >/dev/null 2>&1; then
	say "installing packages (tools/setup.sh)"
	sh "$top/tools/setup.sh" || exit 1
fi
sh "$top/tools/setup.sh" --check || { echo "demo: packages missing (see above)"; exit 1; }

say "building tsunagi in $bdir"
(
	cd "$top" || exit 1
	if [ ! -x configure ]; then autoreconf -fi >/dev/null 2>&1 || autoreconf -fi || exit 1; fi
	mkdir -p "$bdir" && cd "$bdir" || exit 1
	[ -f Makefile ] || "$top"/configure -q >configure.out 2>&1 || { cat configure.out; exit 1; }
	make -j"$(nproc)" >build.out 2>&1 || { tail -30 build.out; exit 1; }
) || { echo "demo: build failed"; exit 1; }
export BUILD=$bdir
built=yes
[ -x "$BUILD/tsunagid" ] && [ -x "$BUILD/tsunagictl" ] || built=no

. "$top/tests/interop/lib.sh"
iop_begin demo
IOP_LOG_LINES=15
say "topology: host-a - site-a - nat (masquerade) - site-b - host-b"
topo_build nat
echo "namespaces:$IOP_NAMESPACES"

say "strongSwan at site-b ($SITE_B_OUT), kernel-libipsec"
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"
swan_load "$NS_SB"
swan_ctl "$NS_SB" --list-conns

if [ $built = no ]; then
	say "tsunagid is not built yet ($BUILD/tsunagid missing): the demo stops here."
	echo "The harness part worked: topology and strongSwan peer are up."
	iop_done 2
fi

say "tsunagid at site-a ($SITE_A_OUT, behind the NAT)"
tsu_conf "$NS_SA" a START_ACTION=start
cat "$(tsu_dir "$NS_SA")/tsunagi.conf"
tsu_start "$NS_SA"

say "waiting for the SA"
if ! swan_wait_sa "$NS_SB" 20; then
	iop_show_logs
	echo "demo: no SA within 20 s"
	iop_done 1
fi
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B

say "tsunagictl --list-sas (site-a)"
tsu_list_sas "$NS_SA"
say "swanctl --list-sas (site-b)"
swan_list_sas "$NS_SB"

say "ping host-b from host-a"
iop_wait 10 ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B
ip netns exec "$NS_HA" ping -c 4 -i 0.3 $HOST_B || { iop_show_logs; iop_done 1; }

say "iperf3 host-a -> host-b (${DEMO_SECONDS:-5} s)"
ip netns exec "$NS_HB" timeout 60 iperf3 -s -1 >/dev/null 2>&1 &
iop_wait 5 ip netns exec "$NS_HB" sh -c 'ss -ltn | grep -q :5201'
timeout 60 ip netns exec "$NS_HA" iperf3 -c $HOST_B -t "${DEMO_SECONDS:-5}" -f m

say "SA counters after the traffic"
tsu_list_sas "$NS_SA"
say "done: cleaning up"
iop_done 0
