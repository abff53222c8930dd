#!/bin/bash
# start_action = trap on tsunagid (site-a, behind the NAT), strongSwan responder at
# site-b: no SA at start (only the trap policy); host-a's first ping hits the policy,
# tsunagid negotiates on the ACQUIRE, and the pings go through. The first one or two
# may be lost while the SA comes up; every later one must come back. Afterwards exactly
# one IKE SA and one CHILD_SA on both ends (no duplicate from repeated ACQUIREs).
. "$(dirname "$0")/lib.sh"
iop_begin trap
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat

pair_start_tsu_initiator START_ACTION=trap
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device"
sleep 1
sa_none "$NS_SB" "$NS_SA" || iop_fail "an SA exists before any traffic: $(tsu_list_sas "$NS_SA" | head -2 | tr '\n' ' ')"
tsu_ctl "$NS_SA" --spd 2>&1 | grep -q "10.1.0.0/24.*10.2.0.0/24" ||
	iop_fail "tsunagid has no trap policy for 10.1.0.0/24 -> 10.2.0.0/24"
acq0=$(tsu_counter "$NS_SA" esp-acquires)

out="$IOP_WORK/ping-trap.out"
ip netns exec "$NS_HA" ping -n -c 10 -i 0.2 -W 2 $HOST_B >"$out" 2>&1
seqs=$(grep -o 'icmp_seq=[0-9]*' "$out" | cut -d= -f2 | tr '\n' ' ')
echo "    answered: icmp_seq $seqs" >&2
for s in 3 4 5 6 7 8 9 10; do
	grep -q " $s " <<<" $seqs" ||
		iop_fail "ping $s of 10 was not answered (answered: ${seqs:-none}): the trapped SA does not carry traffic"
done
iop_wait 5 sa_pair_ok "$NS_SB" "$NS_SA" ||
	iop_fail "not exactly one matching IKE+CHILD SA on both ends after the ping: tsunagid $(tsu_ike_count "$NS_SA")/$(tsu_child_count "$NS_SA"), strongSwan $(swan_ike_count "$NS_SB")/$(swan_child_count "$NS_SB")"
tsu_log_has "$NS_SA" "acquir" || iop_fail "tsunagid's log does not mention the ACQUIRE"
acq=$(( $(tsu_counter "$NS_SA" esp-acquires) - acq0 ))
echo "    ESP engine ACQUIREs: $acq" >&2
[ $acq -ge 1 ] || iop_fail "tsunagid's ESP engine counted no ACQUIRE"
swan_log_has "$NS_SB" "CHILD_SA net\{1\} established" || iop_fail "strongSwan's log shows no CHILD_SA"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
