#!/bin/bash
# Volume lifetimes end to end: tsunagid's CHILD_SA has rekey_bytes = 1M and
# life_bytes = 4M. The ESP engine counts the bytes, sends a soft EXPIRE, the IKE core
# rekeys the CHILD_SA with strongSwan before the hard limit, and traffic goes on over
# the new SA: a 3 MB transfer completes, tsunagid logged the soft expire, and both
# ends show one CHILD_SA with new SPIs.
. "$(dirname "$0")/lib.sh"
iop_begin lifetime-bytes
iop_require_tsunagid
iop_require_cmd iperf3 iperf3

topo_build nat
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start
f="$(tsu_dir "$NS_SA")/tsunagi.conf"
sed -i "/^\t\t\t\tstart_action = /a\\\t\t\t\trekey_bytes = 1M\n\t\t\t\tlife_bytes = 4M" "$f"
grep -q "rekey_bytes = 1M" "$f" || iop_fail "could not set rekey_bytes in $f"
tsu_start "$NS_SA"
swan_wait_sa "$NS_SB" 20 || iop_fail "no SA within 20 s"
first=$(swan_list_sas "$NS_SB" | awk '/ in /{print $2; exit}')

ip netns exec "$NS_HB" timeout 30 iperf3 -s -1 >/dev/null 2>&1 &
iop_wait 5 ip netns exec "$NS_HB" sh -c 'ss -ltn | grep -q :5201' || iop_fail "iperf3 server not up"
timeout 30 ip netns exec "$NS_HA" iperf3 -c $HOST_B -n 3M -f m >"$IOP_WORK/iperf.out" 2>&1 ||
	iop_fail "3 MB did not get through: $(tail -3 "$IOP_WORK/iperf.out")"

iop_wait 10 tsu_log_has "$NS_SA" "soft expire for CHILD_SA" ||
	iop_fail "tsunagid logged no soft expire after 3 MB with rekey_bytes = 1M"
iop_wait 10 eval '[ "$(swan_list_sas "$NS_SB" | awk "/ in /{print \$2; exit}")" != "$first" ]' ||
	iop_fail "strongSwan's CHILD_SA still has its first SPI $first"
iop_wait 10 eval '[ "$(swan_list_sas "$NS_SB" | grep -c "INSTALLED")" = 1 ]' ||
	iop_fail "strongSwan does not have exactly one CHILD_SA: $(swan_list_sas "$NS_SB" | grep -c INSTALLED)"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "no ping over the rekeyed SA"
tsu_log_has "$NS_SA" "hard expire" && iop_fail "the hard limit was reached: the rekey came too late"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
