#!/bin/bash
# A connection with two children, both start_action = start: tsunagid (site-a, behind
# the NAT) must bring up both when it starts (the first in IKE_AUTH, the second by
# CREATE_CHILD_SA on the same IKE SA), each carrying its own networks:
#   net  10.1.0.0/24 <-> 10.2.0.0/24      net2 10.11.0.0/24 <-> 10.12.0.0/24
# A reload (SIGHUP) with the same file keeps exactly these two, and after strongSwan
# deletes the second child, `--initiate --child net2` brings it back alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin two-children
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
addr "$NS_HA" eth0 10.11.0.10/24
addr "$NS_SA" in0 10.11.0.1/24
addr "$NS_HB" eth0 10.12.0.10/24
addr "$NS_SB" in0 10.12.0.1/24

swan_prepare "$NS_SB"
swan_fast_retransmit "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
xt_add_child "$(swan_dir "$NS_SB")/swanctl.conf" net2 10.12.0.0/24 10.11.0.0/24 none
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start
xt_add_child "$(tsu_dir "$NS_SA")/tsunagi.conf" net2 10.11.0.0/24 10.12.0.0/24 start
tsu_fast_conf "$NS_SA"
tsu_start "$NS_SA"

both_up() {
	[ "$(tsu_ike_count "$NS_SA")" = 1 ] && [ "$(tsu_child_count "$NS_SA")" = 2 ] &&
	[ "$(swan_ike_count "$NS_SB")" = 1 ] && [ "$(swan_child_count "$NS_SB")" = 2 ]
}
counts() {
	echo "tsunagid $(tsu_ike_count "$NS_SA") IKE/$(tsu_child_count "$NS_SA") CHILD," \
		"strongSwan $(swan_ike_count "$NS_SB") IKE/$(swan_child_count "$NS_SB") CHILD"
}
iop_wait 20 both_up || iop_fail "not both children up within 20 s: $(counts)"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" 10.12.0.0/24 || iop_fail "no route to 10.12.0.0/24"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "net: host-a cannot ping host-b"
iop_wait 10 ip netns exec "$NS_HA" ping -n -c1 -W1 -I 10.11.0.10 10.12.0.10 ||
	iop_fail "net2: 10.11.0.10 cannot ping 10.12.0.10"
swan_list_sas "$NS_SB" | grep -q 'net2: #' || iop_fail "strongSwan lists no CHILD_SA net2"

tsu_reload "$NS_SA" || iop_fail "reload (SIGHUP) was not logged"
sleep 3
both_up || iop_fail "after a reload: $(counts), expected one IKE SA with two children"

swan_ctl "$NS_SB" --terminate --child net2 >/dev/null 2>&1
iop_wait 10 eval '[ "$(tsu_child_count "$NS_SA")" = 1 ]' ||
	iop_fail "tsunagid did not remove net2 after strongSwan's DELETE: $(counts)"
tsu_ctl "$NS_SA" --initiate --child net2 >/dev/null 2>&1
iop_wait 10 both_up || iop_fail "--initiate --child net2 did not bring it back alone: $(counts)"
iop_wait 10 ip netns exec "$NS_HA" ping -n -c1 -W1 -I 10.11.0.10 10.12.0.10 ||
	iop_fail "net2 after re-initiation: 10.11.0.10 cannot ping 10.12.0.10"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
