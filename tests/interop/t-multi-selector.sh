#!/bin/bash
# A child with two traffic selectors on each side against strongSwan, tsunagid as the
# initiator (site-a, behind the NAT) and as the responder (site-b):
#   local_ts = 10.1.0.0/24,10.11.0.0/24   remote_ts = 10.2.0.0/24,10.12.0.0/24
# One CHILD_SA covers all four pairs (10.1<->10.2, 10.1<->10.12, 10.11<->10.2,
# 10.11<->10.12), so each must carry pings both ways, and tsunagid must count no
# selector drop: every selector of the SA is checked after decapsulation, not only the
# first pair.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin multi-selector
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd python3 python3

HOST_A2=10.11.0.10 HOST_B2=10.12.0.10
TS_A="$NET_A,10.11.0.0/24" TS_B="$NET_B,10.12.0.0/24"

# second_networks: a second inside network at each site, on the same links.
second_networks() {
	addr "$NS_HA" eth0 $HOST_A2/24
	addr "$NS_SA" in0 10.11.0.1/24
	addr "$NS_HB" eth0 $HOST_B2/24
	addr "$NS_SB" in0 10.12.0.1/24
}

# ping_from NS SRC DST: one answered ping (within 10 s), then 3 more all answered.
ping_from() {
	iop_wait 10 ip netns exec "$1" ping -n -c1 -W1 -I "$2" "$3" || return 1
	ip netns exec "$1" ping -n -q -c 3 -i 0.2 -W 2 -I "$2" "$3" >/dev/null 2>&1
}

# all_pairs_flow CASE: every pair of inside addresses reaches the other through the tunnel.
all_pairs_flow() {
	local a b
	for a in $HOST_A $HOST_A2; do
		for b in $HOST_B $HOST_B2; do
			ping_from "$NS_HA" $a $b || iop_fail "$1: $a cannot ping $b through the tunnel"
			ping_from "$NS_HB" $b $a || iop_fail "$1: $b cannot ping $a through the tunnel"
		done
	done
}

# no_selector_drops CASE NS: tsunagid's CHILD_SAs counted no selector drop.
no_selector_drops() {
	local drops
	drops=$(xt_json "$2" "sum(int(c.get('drops-selector', 0)) for s in j for i in s.values() for c in i['child-sas'].values())" --list-sas)
	[ -n "$drops" ] || iop_fail "$1: cannot read tsunagid's per-SA drop counters"
	[ "$drops" = 0 ] || iop_fail "$1: tsunagid counted $drops selector drops: $(tsu_ctl "$2" --list-sas | head -12 | tr '\n' ' ')"
	[ "$(tsu_child_count "$2")" = 1 ] || iop_fail "$1: tsunagid has $(tsu_child_count "$2") CHILD_SAs, expected one for all four pairs"
}

# Case 1: tsunagid initiates from site-a.
topo_build nat
second_networks
pair_start_tsu_initiator LOCAL_TS=$TS_A REMOTE_TS=$TS_B -- LOCAL_TS=$TS_B REMOTE_TS=$TS_A
swan_wait_sa "$NS_SB" 20 || iop_fail "initiator: strongSwan (site-b) has no SA within 20 s"
iop_wait 5 tsu_child_up "$NS_SA" || iop_fail "initiator: tsunagid shows no INSTALLED CHILD_SA"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "initiator: no TUN device"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" 10.12.0.0/24 || iop_fail "initiator: no route to 10.12.0.0/24"
all_pairs_flow initiator
no_selector_drops initiator "$NS_SA"
tsu_alive "$NS_SA" || iop_fail "initiator: tsunagid died"
topo_destroy

# Case 2: strongSwan initiates from site-a, tsunagid responds at site-b.
topo_build nat
second_networks
xt_swan_initiates_to_tsu LOCAL_TS=$TS_B REMOTE_TS=$TS_A -- LOCAL_TS=$TS_A REMOTE_TS=$TS_B
tsu_ensure_route "$NS_SB" "$TSU_TUN_B" 10.11.0.0/24 || iop_fail "responder: no route to 10.11.0.0/24"
all_pairs_flow responder
no_selector_drops responder "$NS_SB"
tsu_alive "$NS_SB" || iop_fail "responder: tsunagid died"
iop_pass
