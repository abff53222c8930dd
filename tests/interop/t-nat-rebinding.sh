#!/bin/bash
# NAT rebinding of an established SA, through the real masquerading NAT.
# strongSwan at site-a (behind the NAT) initiates to tsunagid at site-b. Then the NAT's
# mapping changes under the running SA (conntrack flushed, new SNAT rule):
#   port:    the same public address, a new source port (31000-31999)
#   address: a new public address 198.51.100.4
# strongSwan's next DPD (an authenticated INFORMATIONAL) reaches tsunagid from the new
# mapping; tsunagid must follow it for IKE and ESP alike, with the SA's keys and SPIs
# unchanged: traffic flows both ways again, and neither end counts integrity failures
# (before the fix, the SAs were reinstalled with all-zero keys; and on an address change
# ESP went on to the old address).
# The same two cases with IKEv1 at both ends (Windows, macOS and Cisco-style clients
# behind NATs): strongSwan's R-U-THERE (its HASH checked, a new number) from the new
# mapping moves tsunagid's ISAKMP SA and its SAs.
# ESP alone then shows tsunagid a new mapping (IKEv2, no DPD either side, no IKE message
# after the NAT moved): its engine finds the first authenticated ESP-in-UDP packet from
# the new port and says NEW_MAPPING; tsunagid, not behind a NAT itself, follows the peer
# behind one (RFC 7296 2.23), and the ping is answered through the new mapping.
# A last case puts tsunagid behind the NAT as the initiator: strongSwan follows it (and,
# having no MOBIKE with kernel-libipsec, rekeys the CHILD_SA to move it), and the
# traffic goes on through the new mapping.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin nat-rebinding
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd conntrack conntrack
iop_require_cmd python3 python3

# nat_remap RULE: replaces the NAT's postrouting rules (RULE, then masquerade for the
# rest) and forgets every mapping.
nat_remap() {
	ip netns exec "$NS_NAT" nft flush chain ip nat postrouting || iop_fail "nft flush failed"
	ip netns exec "$NS_NAT" nft add rule ip nat postrouting oifname out0 $1 ||
		iop_fail "nft rule '$1' failed"
	ip netns exec "$NS_NAT" nft add rule ip nat postrouting oifname out0 masquerade ||
		iop_fail "nft masquerade rule failed"
	ip netns exec "$NS_NAT" conntrack -F >/dev/null 2>&1 || iop_fail "conntrack -F failed in the NAT"
}

# tsu_integrity_drops NS: integrity drops summed over tsunagid's CHILD_SAs.
tsu_integrity_drops() {
	xt_json "$1" "sum(int(c.get('drops-integrity', 0)) for s in j for i in s.values() for c in i['child-sas'].values())" --list-sas
}

# swan_integrity_fails NS: charon's log lines about ESP that failed its ICV check.
swan_integrity_fails() { grep -Eic 'ICV verification failed|integrity check failed|verification of .* failed' "$(swan_dir "$1")/charon.log"; }

# flows_both_ways CASE: pings host-a <-> host-b, within 15 s for the first.
flows_both_ways() {
	PING_WAIT=15 iop_ping "$NS_HA" $HOST_B 5 || iop_fail "$1: host-a cannot ping host-b after the NAT moved"
	iop_ping "$NS_HB" $HOST_A 5 || iop_fail "$1: host-b cannot ping host-a after the NAT moved"
}

# rebind_responder CASE RULE EXPECTED_PEER_RE: one case with tsunagid responding.
rebind_responder() {
	local case=$1 rule=$2 peer_re=$3 spis_t spis_s n0
	spis_t=$(tsu_child_spis "$NS_SB") spis_s=$(swan_child_spis "$NS_SA")
	n0=$(xt_tsu_log_count "$NS_SB" "peer moved")
	nat_remap "$rule"
	iop_wait 20 eval '[ "$(xt_tsu_log_count "$NS_SB" "peer moved")" -gt "$n0" ]' ||
		iop_fail "$case: tsunagid never followed the peer's new mapping (no 'peer moved' within 20 s)"
	tsu_log_has "$NS_SB" "peer moved from .* to $peer_re" ||
		iop_fail "$case: tsunagid followed the peer elsewhere: $(grep -i 'peer moved' "$(tsu_dir "$NS_SB")/tsunagid.log" | tail -1)"
	flows_both_ways "$case"
	[ "$(tsu_child_spis "$NS_SB")" = "$spis_t" ] || iop_fail "$case: tsunagid's SPIs changed ($spis_t -> $(tsu_child_spis "$NS_SB")): a rekey hid the rebinding"
	[ "$(swan_child_spis "$NS_SA")" = "$spis_s" ] || iop_fail "$case: strongSwan's SPIs changed"
	local d
	d=$(tsu_integrity_drops "$NS_SB")
	[ "$d" = 0 ] || iop_fail "$case: tsunagid counted $d integrity drops after the NAT moved (keys changed?)"
	[ "$(swan_integrity_fails "$NS_SA")" = 0 ] ||
		iop_fail "$case: strongSwan logged ESP integrity failures: $(grep -Ei 'ICV|integrity' "$(swan_dir "$NS_SA")/charon.log" | tail -1)"
	grep -q "$(sed 's/\\//g; s/\[.*//' <<<"$peer_re")" <<<"$(tsu_ctl "$NS_SB" --sad 2>&1)" ||
		iop_fail "$case: tsunagid's outbound SA does not go to the new address: $(tsu_ctl "$NS_SB" --sad 2>&1 | head -8 | tr '\n' ' ')"
}

topo_build nat
# strongSwan sends DPD after 2 s without inbound traffic: that is the authenticated
# message that shows tsunagid the new mapping.
XT_SWAN_CONN=("dpd_delay = 2s")
xt_swan_initiates_to_tsu

rebind_responder port "ip protocol udp snat to $NAT_OUT:31000-31999" "$NAT_OUT\[3[01][0-9][0-9][0-9]\]"
ip -n "$NS_NAT" addr add 198.51.100.4/24 dev out0 || iop_fail "cannot add the NAT's second address"
rebind_responder address "snat to 198.51.100.4" "198\.51\.100\.4\["
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
xt_check_sanitizers
topo_destroy

# IKEv1: the same on strongSwan's R-U-THERE.
topo_build nat
XT_IKE_VERSION=1
V1_PROPS=(IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes128-sha256)
xt_swan_initiates_to_tsu "${V1_PROPS[@]}" -- "${V1_PROPS[@]}"
XT_IKE_VERSION=2
tsu_ctl "$NS_SB" --list-sas 2>&1 | grep -q " IKEv1 " || iop_fail "ikev1: tsunagid's SA is not IKEv1: $(tsu_ctl "$NS_SB" --list-sas 2>&1 | head -2 | tr "\\n" " ")"
rebind_responder ikev1-port "ip protocol udp snat to $NAT_OUT:33000-33999" "$NAT_OUT\[33[0-9]{3}\]"
ip -n "$NS_NAT" addr add 198.51.100.5/24 dev out0 || iop_fail "cannot add the NAT's third address"
rebind_responder ikev1-address "snat to 198.51.100.5" "198\.51\.100\.5\["
tsu_alive "$NS_SB" || iop_fail "ikev1: tsunagid died"
topo_destroy

# ESP alone: no DPD, so the first packet from the new mapping is ESP.
topo_build nat
XT_SWAN_CONN=()
xt_swan_initiates_to_tsu
spis=$(tsu_child_spis "$NS_SB")
nat_remap "ip protocol udp snat to $NAT_OUT:34000-34999"
t0=$(date +%s)
flows_both_ways esp-only
tsu_log_has "$NS_SB" "peer moved from .* to $NAT_OUT\[34[0-9]{3}\]" ||
	iop_fail "esp-only: tsunagid did not follow the peer to its new port: $(grep -i 'peer moved' "$(tsu_dir "$NS_SB")/tsunagid.log" | tail -1)"
[ "$(tsu_counter "$NS_SB" esp-nat-mappings)" -ge 1 ] ||
	iop_fail "esp-only: the engine counted no NEW_MAPPING (esp-nat-mappings)"
[ "$(tsu_counter "$NS_SB" ike-nat-mappings)" -ge 1 ] ||
	iop_fail "esp-only: tsunagid followed, but not on NEW_MAPPING (ike-nat-mappings 0)"
[ "$(tsu_child_spis "$NS_SB")" = "$spis" ] || iop_fail "esp-only: tsunagid's SPIs changed"
echo "esp-only: traffic back both ways $(( $(date +%s) - t0 )) s after the NAT moved"
tsu_alive "$NS_SB" || iop_fail "esp-only: tsunagid died"
topo_destroy

# tsunagid as the initiator behind the NAT: strongSwan follows it on tsunagid's DPD.
topo_build nat
PAIR_TSU_CONN=("dpd_delay = 2s")
pair_start_tsu_initiator
swan_wait_sa "$NS_SB" 20 || iop_fail "initiator: strongSwan has no SA within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "initiator: no TUN device"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "initiator: no traffic before the NAT moved"
spis=$(tsu_child_spis "$NS_SA")
nat_remap "ip protocol udp snat to $NAT_OUT:32000-32999"
iop_wait 20 swan_log_has "$NS_SB" "remote endpoint changed from $NAT_OUT\[4500\] to $NAT_OUT\[32[0-9]{3}\]" ||
	iop_fail "initiator: strongSwan never saw tsunagid's new mapping"
flows_both_ways initiator
d=$(tsu_integrity_drops "$NS_SA")
[ "$d" = 0 ] || iop_fail "initiator: tsunagid counted $d integrity drops"
swan_list_sas "$NS_SB" | grep -q "$NAT_OUT\[32[0-9][0-9][0-9]\]" ||
	iop_fail "initiator: strongSwan did not follow tsunagid to its new port: $(swan_list_sas "$NS_SB" | head -2 | tr '\n' ' ')"
tsu_alive "$NS_SA" || iop_fail "initiator: tsunagid died"
iop_pass
