#!/bin/bash
# Dead peer detection both ways (tsunagid at site-a behind the NAT, strongSwan at site-b;
# both retransmit 0.5 s, x1.4, 2 retransmits: about 2.2 s until they give up):
#   tsunagid with dpd_delay = 5s, charon killed (SIGKILL, no DELETE): within dpd_delay +
#   retransmissions (+ 2 s slack) tsunagid logs that the peer does not respond and
#   tsunagictl shows no IKE SA, no CHILD_SA, and its SAD no ESP SA;
#   strongSwan with dpd_delay = 5s, tsunagid killed: charon gives up within the same
#   bound and swanctl --list-sas shows nothing.
. "$(dirname "$0")/lib.sh"
iop_begin dpd
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat
DPD=5 RETRANS=2.2 SLACK=2
limit=$(awk -v a=$DPD -v b=$RETRANS -v c=$SLACK 'BEGIN{printf "%d", a + b + c + 0.999}')

# ms_now: milliseconds since the epoch.
ms_now() { date +%s%3N; }

# 1. tsunagid detects a dead strongSwan.
PAIR_TSU_CONN=("dpd_delay = ${DPD}s")
pair_start_tsu_initiator
iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "no single matching IKE+CHILD SA on both ends"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device"
iop_ping "$NS_HA" $HOST_B 1 || iop_fail "no ping through the tunnel"
# A first DPD exchange with a live peer must keep the SA.
sleep $((DPD + 1))
sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "the SA did not survive a DPD round with a live peer"
iop_kill_pid "${IOP_SWAN_PID[$NS_SB]}" || iop_fail "could not kill charon"
t0=$(ms_now)
swan_ctl "$NS_SB" --list-sas >/dev/null 2>&1 && iop_fail "strongSwan still answers after SIGKILL"
tsu_gone() { [ "$(tsu_ike_count "$NS_SA")" = 0 ] && [ "$(tsu_child_count "$NS_SA")" = 0 ]; }
iop_wait $((limit + 2)) tsu_gone ||
	iop_fail "tsunagid still lists an SA $limit s after the peer died: $(tsu_list_sas "$NS_SA" | head -3 | tr '\n' ' ')"
took=$(( $(ms_now) - t0 ))
echo "    tsunagid dropped the dead peer's SA after $took ms" >&2
[ $took -le $((limit * 1000)) ] ||
	iop_fail "tsunagid took $took ms to notice the dead peer (limit ${limit}s: dpd_delay ${DPD}s + ${RETRANS}s retransmits + ${SLACK}s)"
tsu_log_has "$NS_SA" "peer not responding|not responding" ||
	iop_fail "tsunagid's log does not say that the peer is not responding"
sad=$(tsu_ctl "$NS_SA" --sad 2>&1)
grep -q "mode=tunnel" <<<"$sad" && iop_fail "tsunagid's SAD still holds ESP SAs: $(grep spi= <<<"$sad" | tr '\n' ' ')"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_stop_gateways "$NS_SA" "$NS_SB"

# 2. strongSwan detects a dead tsunagid.
PAIR_TSU_CONN=() PAIR_SWAN_CONN=("dpd_delay = ${DPD}s")
pair_start_tsu_initiator
iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "reverse: no single matching IKE+CHILD SA on both ends"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "reverse: no TUN device"
iop_ping "$NS_HA" $HOST_B 1 || iop_fail "reverse: no ping through the tunnel"
sleep $((DPD + 1))
sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "reverse: the SA did not survive strongSwan's DPD round with a live tsunagid"
swan_log_has "$NS_SB" "parsed INFORMATIONAL response" ||
	iop_fail "reverse: tsunagid did not answer strongSwan's DPD"
iop_kill_pid "${IOP_TSU_PID[$NS_SA]}" || iop_fail "could not kill tsunagid"
t0=$(ms_now)
tsu_ctl "$NS_SA" --list-sas >/dev/null 2>&1 && iop_fail "tsunagid still answers after SIGKILL"
swan_gone() { [ "$(swan_ike_count "$NS_SB")" = 0 ]; }
iop_wait $((limit + 2)) swan_gone ||
	iop_fail "reverse: strongSwan still lists an SA $limit s after tsunagid died"
took=$(( $(ms_now) - t0 ))
echo "    strongSwan dropped the dead tsunagid's SA after $took ms" >&2
[ $took -le $((limit * 1000)) ] || iop_fail "reverse: strongSwan took $took ms (limit ${limit}s)"
swan_log_has "$NS_SB" "giving up after 2 retransmits" ||
	iop_fail "reverse: charon's log does not show it giving up on tsunagid"
iop_pass
