#!/bin/bash
# Offloads, tsunagid <-> tsunagid through the NAT: 200 MB by TCP each way, the SHA-256 of
# the data checked at the receiving end. With the offloads on (the default), site-a's TUN
# device hands over super-packets (more than 4 KB per read on average: TSO, split in
# esp/gso.c) and site-b's takes coalesced ones (esp/gro.c); no read is refused as a bad
# super-packet. Then site-b runs with `esp { offload = no }`: the mix still carries a
# hashed transfer each way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin offload
iop_require_tsunagid
MB=$((200 << 20))

# stat NS DEV tx|rx bytes|packets
stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3_$4"; }

up() {
	tsu_start "$NS_SB"
	tsu_start "$NS_SA"
	iop_wait 20 tsu_child_up "$NS_SA" || iop_fail "no CHILD_SA at site-a within 20 s"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device $TSU_TUN_A"
	tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "no TUN device $TSU_TUN_B"
	iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"
}

topo_build nat
tsu_conf "$NS_SB" b
tsu_conf "$NS_SA" a START_ACTION=start
up
why=$(tcp_transfer_whole "$NS_HA" "$NS_HB" $HOST_B $MB 60) ||
	iop_fail "200 MB host-a -> host-b with offloads: $why"
why=$(tcp_transfer_whole "$NS_HB" "$NS_HA" $HOST_A $MB 60) ||
	iop_fail "200 MB host-b -> host-a with offloads: $why"
read_avg=$(( $(stat "$NS_SA" "$TSU_TUN_A" tx bytes) / $(stat "$NS_SA" "$TSU_TUN_A" tx packets) ))
write_avg=$(( $(stat "$NS_SB" "$TSU_TUN_B" rx bytes) / $(stat "$NS_SB" "$TSU_TUN_B" rx packets) ))
iop_note "site-a TUN reads: $read_avg bytes on average; site-b TUN writes: $write_avg"
[ "$read_avg" -gt 4096 ] || iop_fail "site-a's TUN reads average $read_avg bytes: no TSO super-packets"
[ "$write_avg" -gt 4096 ] || iop_fail "site-b's TUN writes average $write_avg bytes: no coalescing"
for ns in "$NS_SA" "$NS_SB"; do
	bad=$(tsu_counter "$ns" esp-bad-super-packets)
	[ "$bad" = 0 ] || iop_fail "${ns#"$IOP_PFX"-}: esp-bad-super-packets is $bad"
done
tsu_alive "$NS_SA" && tsu_alive "$NS_SB" || iop_fail "a tsunagid died"
xt_check_sanitizers

# The mix: site-b without offloads, on a fresh topology.
topo_destroy
topo_build nat
tsu_conf "$NS_SB" b
tsu_conf "$NS_SA" a START_ACTION=start
sed -i 's/^tsunagi {/tsunagi {\n\tesp { offload = no }/' "$(tsu_dir "$NS_SB")/tsunagi.conf"
up
why=$(tcp_transfer_whole "$NS_HA" "$NS_HB" $HOST_B $((50 << 20)) 60) ||
	iop_fail "50 MB host-a -> host-b, site-b without offloads: $why"
why=$(tcp_transfer_whole "$NS_HB" "$NS_HA" $HOST_A $((50 << 20)) 60) ||
	iop_fail "50 MB host-b -> host-a, site-b without offloads: $why"
tsu_alive "$NS_SA" && tsu_alive "$NS_SB" || iop_fail "a tsunagid died"
xt_check_sanitizers
iop_pass
