#!/bin/bash
# tsunagid <-> strongSwan with no NAT in the path (the nat namespace is a bridge), in
# both roles. strongSwan's kernel-libipsec asks for UDP encapsulation anyway, by sending
# NAT-D hashes that cannot match; tsunagid must simply follow it: both ends show the
# CHILD_SA in UDP on port 4500 between the real addresses, and pings pass both ways.
. "$(dirname "$0")/lib.sh"
iop_begin ikev2-direct
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build direct

# 1. tsunagid at site-a initiates to strongSwan at site-b.
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start
tsu_start "$NS_SA"
swan_wait_sa "$NS_SB" 20 || iop_fail "initiator: strongSwan (site-b) has no SA within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "initiator: host-a cannot ping host-b"
sas=$(swan_list_sas "$NS_SB")
grep -q "TUNNEL-in-UDP" <<<"$sas" || iop_fail "initiator: strongSwan's CHILD_SA is not in UDP"
grep -q "$SITE_A_OUT\[4500\]" <<<"$sas" ||
	iop_fail "initiator: strongSwan does not see tsunagid at its own address $SITE_A_OUT port 4500"
iop_wait 5 tsu_shows_sa "$NS_SA" s2s $SITE_B_OUT ||
	iop_fail "initiator: tsunagictl does not show the SA with $SITE_B_OUT"
tsu_list_sas "$NS_SA" | grep -q "TUNNEL-in-UDP" ||
	iop_fail "initiator: tsunagid did not follow strongSwan to UDP encapsulation"

# 2. Roles swapped: strongSwan at site-b initiates to tsunagid at site-a.
tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
iop_wait 10 eval '! swan_list_sas "$NS_SB" | grep -q ESTABLISHED' ||
	iop_fail "terminate: strongSwan still has the SA"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b REMOTE_ADDRS=$SITE_A_OUT
swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=none
kill -HUP "${IOP_TSU_PID[$NS_SA]}"
sleep 1
swan_initiate "$NS_SB" net
swan_wait_sa "$NS_SB" 20 || iop_fail "responder: strongSwan (site-b) has no SA within 20 s"
iop_ping "$NS_HB" $HOST_A 5 || iop_fail "responder: host-b cannot ping host-a"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "responder: host-a cannot ping host-b"
tsu_list_sas "$NS_SA" | grep -q "responder" ||
	iop_fail "responder: tsunagictl does not show tsunagid as responder: $(tsu_list_sas "$NS_SA" | head -3)"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
