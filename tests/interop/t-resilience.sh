#!/bin/bash
# What must keep working while the code underneath changes (tsunagid at site-a behind
# the NAT initiates, strongSwan responds at site-b):
#   restart:  dpd_action = restart; charon is killed (no DELETE) and started again:
#             tsunagid notices by DPD and builds the tunnel again by itself.
#   loss:     the NAT drops 20% of the packets each way (nftables numgen): the SA comes
#             up all the same (retransmissions), and 1 MB sent by TCP through the tunnel
#             arrives whole (length and SHA-256 checked at host-b).
#   churn:    40 x swanctl --terminate / --initiate against tsunagid's VICI: every
#             cycle brings the SA back, and tsunagid's memory and open files do not
#             grow from cycle 10 to cycle 40.
. "$(dirname "$0")/lib.sh"
iop_begin resilience
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd python3 python3
topo_build nat

# --- restart -------------------------------------------------------------------------
PAIR_TSU_CONN=("dpd_delay = 2s" "keyingtries = 0") PAIR_TSU_CHILD=("dpd_action = restart")
pair_start_tsu_initiator
iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "restart: no SA on both ends"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "restart: no TUN device"
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "restart: no traffic before the kill"
old=$(tsu_ike_spis "$NS_SA")
iop_kill_pid "${IOP_SWAN_PID[$NS_SB]}" || iop_fail "restart: could not kill charon"
iop_wait 15 tsu_log_has "$NS_SA" "not responding" || iop_fail "restart: tsunagid did not notice the dead peer"
swan_start "$NS_SB"; swan_load "$NS_SB"
iop_wait 30 sa_pair_ok "$NS_SB" "$NS_SA" ||
	iop_fail "restart: tsunagid did not re-establish within 30 s of charon's restart: $(tsu_list_sas "$NS_SA" | head -3 | tr '\n' ' ')"
[ "$(tsu_ike_spis "$NS_SA")" != "$old" ] || iop_fail "restart: still the old IKE SA"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "restart: no traffic after the restart"
iop_stop_gateways "$NS_SA" "$NS_SB"

# --- loss ----------------------------------------------------------------------------
ip netns exec "$NS_NAT" nft -f - <<-NFT || iop_fail "loss: nft rule failed"
table ip loss {
	chain forward {
		type filter hook forward priority filter; policy accept;
		numgen random mod 100 < 20 counter drop
	}
}
NFT
# Loss needs patient retransmission: 1 s, x1.4, 6 tries (charon: 2 s, x1.8, 3 tries).
PAIR_TSU_CONN=("keyingtries = 0") PAIR_TSU_CHILD=()
PAIR_TSU_DAEMON=("retransmit_timeout = 1" "retransmit_tries = 6")
pair_start_tsu_initiator
iop_wait 60 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "loss: no SA on both ends within 60 s at 20% loss each way"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "loss: no TUN device"
why=$(tcp_transfer_whole "$NS_HA" "$NS_HB" $HOST_B $((1 << 20)) 90) ||
	iop_fail "loss: the 1 MB TCP transfer did not arrive whole: $why;" \
		"tsunagid: $(tsu_ctl "$NS_SA" --list-sas | tail -2 | tr '\n' ' ');" \
		"sockets: $(ip netns exec "$NS_HA" ss -tin | tail -2 | tr '\n' ' ')"
dropped=$(ip netns exec "$NS_NAT" nft list table ip loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
echo "    20% loss each way: SA up, 1 MB by TCP received in full; the NAT dropped ${dropped:-?} packets" >&2
[ "${dropped:-0}" -gt 0 ] || iop_fail "loss: the NAT dropped nothing: the loss rule did not apply"
ip netns exec "$NS_NAT" nft delete table ip loss
iop_stop_gateways "$NS_SA" "$NS_SB"

# --- churn ---------------------------------------------------------------------------
PAIR_TSU_CONN=() PAIR_TSU_DAEMON=()
pair_start_tsu_initiator
iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "churn: no SA on both ends"
pid=${IOP_TSU_PID[$NS_SA]}
tsu_swanctl() { timeout 20 ip netns exec "$NS_SA" swanctl "$@" --uri "$(tsu_uri "$NS_SA")"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
for i in $(seq 1 40); do
	tsu_swanctl --terminate --ike s2s >/dev/null 2>&1 || iop_fail "churn $i: swanctl --terminate failed"
	iop_wait 10 sa_none "$NS_SB" "$NS_SA" || iop_fail "churn $i: an SA is left after --terminate"
	tsu_swanctl --initiate --child net >/dev/null 2>&1 || iop_fail "churn $i: swanctl --initiate failed"
	iop_wait 10 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "churn $i: no SA on both ends after --initiate"
	[ $i = 10 ] && { rss10=$(rss_kb); fd10=$(fds); }
done
rss40=$(rss_kb) fd40=$(fds)
echo "    40 terminate/initiate cycles: RSS ${rss10} kB at 10, ${rss40} kB at 40; fds $fd10 -> $fd40" >&2
[ "$fd40" -le "$fd10" ] || iop_fail "churn: open files grew from $fd10 to $fd40 in 30 cycles"
[ $((rss40 - rss10)) -le 512 ] || iop_fail "churn: RSS grew by $((rss40 - rss10)) kB in 30 cycles (limit 512 kB)"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "churn: no TUN device"
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "churn: no traffic after the cycles"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
