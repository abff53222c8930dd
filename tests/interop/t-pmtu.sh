#!/bin/bash
# Path MTU in the engine, tsunagid <-> tsunagid through the NAT (ESP in UDP 4500,
# AES-GCM, default path MTU 1500: the inner MTU is 1500 - 20 IP - 8 UDP - 8 ESP - 8 IV
# - 16 ICV, less the 2-byte trailer on a 4-byte boundary = 1438). The TUN device's MTU
# is 65535, so it is the engine, not the kernel, that answers:
# - `ping -M dont -s 1450` (1478 bytes, no DF) is fragmented before encryption by both
#   gateways and gets its replies;
# - `ping -M do -s 1450` gets "Frag needed" with mtu 1438 (then "message too long");
# - with MSS clamping off on both sides, 4 MB by TCP from host-b to host-a arrives whole
#   (sha256 at both ends): host-b's TCP learns the 1438 from site-b's ICMP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin pmtu
iop_require_tsunagid
iop_require_cmd python3 python3

WANT_MTU=1438
topo_build nat
tsu_conf "$NS_SB" b
tsu_conf "$NS_SA" a START_ACTION=start
# No MSS clamping: TCP must find the tunnel's MTU through the engine's ICMP.
for ns in "$NS_SA" "$NS_SB"; do
	sed -i 's/^\ttun = .*/&\n\tesp {\n\t\tmss = off\n\t}/' "$(tsu_dir "$ns")/tsunagi.conf"
done
tsu_start "$NS_SB"
tsu_start "$NS_SA"
iop_wait 20 tsu_child_up "$NS_SA" || iop_fail "no CHILD_SA at site-a within 20 s: $(tsu_list_sas "$NS_SA" | head -3)"
iop_wait 5 tsu_child_up "$NS_SB" || iop_fail "no CHILD_SA at site-b: $(tsu_list_sas "$NS_SB" | head -3)"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device $TSU_TUN_A"
tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "no TUN device $TSU_TUN_B"
ip -n "$NS_SA" link show "$TSU_TUN_A" | grep -q "mtu 65535" ||
	iop_fail "the TUN device's MTU is not 65535: $(ip -n "$NS_SA" link show "$TSU_TUN_A" | head -1)"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel"

# 1. No DF: fragmented by the engines (requests at site-a, replies at site-b).
out=$(ip netns exec "$NS_HA" ping -M dont -s 1450 -c 3 -i 0.3 -W 2 $HOST_B 2>&1)
grep -q " 0% packet loss" <<<"$out" || iop_fail "ping -M dont -s 1450 lost replies: $(tail -2 <<<"$out")"
fa=$(tsu_counter "$NS_SA" esp-prefrag-ok) fb=$(tsu_counter "$NS_SB" esp-prefrag-ok)
na=$(tsu_counter "$NS_SA" esp-fragments)
[ "$fa" -ge 3 ] && [ "$na" -ge 6 ] ||
	iop_fail "site-a pre-fragmented $fa packets into $na fragments (want >= 3, >= 6)"
[ "$fb" -ge 3 ] || iop_fail "site-b pre-fragmented only $fb echo replies (want >= 3)"

# 2. TCP without MSS clamping, host-b -> host-a: 4 MB, hashed at both ends. Before the
# DF pings: after them host-a knows the 1438 and would advertise an MSS that fits.
why=$(tcp_transfer_whole "$NS_HB" "$NS_HA" $HOST_A $((4 << 20)) 50) ||
	iop_fail "the 4 MB TCP transfer did not arrive whole: $why"
pb=$(tsu_counter "$NS_SB" esp-pmtu-sent)
[ "$pb" -ge 1 ] || iop_fail "site-b sent no ICMP frag needed to host-b's TCP (esp-pmtu-sent $pb)"
# 3. DF: ICMP frag needed carrying the tunnel's inner MTU, from the engine.
out=$(ip netns exec "$NS_HA" ping -M do -s 1450 -c 3 -i 0.3 -W 1 $HOST_B 2>&1)
grep -Eq "(mtu = |mtu=)$WANT_MTU" <<<"$out" ||
	iop_fail "ping -M do -s 1450 did not report mtu $WANT_MTU: $(head -3 <<<"$out")"
pa=$(tsu_counter "$NS_SA" esp-pmtu-sent)
[ "$pa" -ge 1 ] || iop_fail "site-a's esp-pmtu-sent is $pa"
# Fits exactly: 1438 bytes with DF get through.
out=$(ip netns exec "$NS_HA" ping -M do -s $((WANT_MTU - 28)) -c 2 -i 0.3 -W 2 $HOST_B 2>&1)
grep -q " 0% packet loss" <<<"$out" || iop_fail "ping -M do of exactly $WANT_MTU bytes failed: $(tail -2 <<<"$out")"

for ns in "$NS_SA" "$NS_SB"; do
	f=$(tsu_counter "$ns" esp-prefrag-failed)
	[ "$f" = 0 ] || iop_fail "${ns#"$IOP_PFX"-}: esp-prefrag-failed $f"
done
echo "    site-a: prefrag-ok $fa, fragments $na, pmtu-sent $pa; site-b: prefrag-ok $fb," \
	"pmtu-sent $pb; 4 MB TCP b->a whole (sha256 $want_h)" >&2
tsu_alive "$NS_SA" && tsu_alive "$NS_SB" || iop_fail "a tsunagid died"
xt_check_sanitizers
iop_pass
