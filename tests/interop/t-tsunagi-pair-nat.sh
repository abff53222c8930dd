#!/bin/bash
# tsunagid <-> tsunagid through the masquerading NAT (no strongSwan): tsunagid at site-a
# (behind the NAT) initiates to tsunagid at site-b. The SA must float to UDP 4500: on the
# wire between the NAT and site-b, ESP travels in UDP 4500 and never as raw ESP (IP
# protocol 50); host-a and host-b ping each other. Both tsunagictl show the SA
# (TUNNEL-in-UDP, the right peer, port 4500) and NAT detection names the right side:
# site-a is behind the NAT, site-b is not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin tsunagi-pair-nat
iop_require_tsunagid
iop_require_cmd tshark tshark

topo_build nat
cap_start "$NS_NAT" out0 "$IOP_WORK/wire.pcap" "esp or udp port 4500 or udp port 500"
tsu_conf "$NS_SB" b
tsu_conf "$NS_SA" a START_ACTION=start
tsu_start "$NS_SB"
tsu_start "$NS_SA"
iop_wait 20 tsu_child_up "$NS_SA" || iop_fail "no CHILD_SA at site-a within 20 s: $(tsu_list_sas "$NS_SA" | head -3)"
iop_wait 5 tsu_child_up "$NS_SB" || iop_fail "no CHILD_SA at site-b: $(tsu_list_sas "$NS_SB" | head -3)"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device $TSU_TUN_A"
tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "no TUN device $TSU_TUN_B"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"
iop_ping "$NS_HB" $HOST_A 3 || iop_fail "host-b cannot ping host-a through the tunnel"
cap_stop

# The wire between the NAT and site-b, one line per packet: protocol, ports, addresses and
# whether tshark decoded ESP or IKE.
tshark -r "$IOP_WORK/wire.pcap" -n -T fields -E separator=, -e ip.proto -e udp.srcport \
	-e udp.dstport -e ip.src -e ip.dst -e esp.spi -e isakmp.exchangetype 2>/dev/null >"$IOP_WORK/wire.txt"
read -r nesp nudp nike nodd < <(awk -F, -v nat="$NAT_OUT" -v sb="$SITE_B_OUT" '
	$1 == 50 { esp++ }
	$1 == 17 && ($2 == 4500 || $3 == 4500) && $6 ~ /^0x/ { udp++
		if (!(($4 == nat && $5 == sb) || ($4 == sb && $5 == nat))) odd++ }
	$1 == 17 && ($2 == 4500 || $3 == 4500) && $7 ~ /^3[4-7]$/ { ike++ }
	END { print esp + 0, udp + 0, ike + 0, odd + 0 }' "$IOP_WORK/wire.txt")
iop_note "wire: $nudp ESP-in-UDP, $nesp raw ESP, $nike IKE on 4500"
[ "$nesp" = 0 ] || iop_fail "$nesp raw ESP packets on the wire behind the NAT (expected only ESP-in-UDP)"
[ "$nudp" -ge 16 ] || iop_fail "expected ESP-in-UDP on port 4500, saw only $nudp (and $nesp raw ESP)"
[ "$nike" -ge 2 ] || iop_fail "IKE_AUTH did not float to port 4500 ($nike IKE messages on 4500)"
[ "$nodd" = 0 ] || iop_fail "$nodd ESP-in-UDP packets not between $NAT_OUT and $SITE_B_OUT"

a=$(tsu_list_sas "$NS_SA")
b=$(tsu_list_sas "$NS_SB")
grep -q "$SITE_B_OUT\[4500\]" <<<"$a" || iop_fail "site-a's tsunagictl does not show peer ${SITE_B_OUT}[4500]: $(head -3 <<<"$a")"
grep -q "$NAT_OUT\[" <<<"$b" || iop_fail "site-b's tsunagictl does not show peer $NAT_OUT: $(head -3 <<<"$b")"
grep -q "TUNNEL-in-UDP" <<<"$a" || iop_fail "site-a's CHILD_SA is not UDP-encapsulated: $(grep INSTALLED <<<"$a")"
grep -q "TUNNEL-in-UDP" <<<"$b" || iop_fail "site-b's CHILD_SA is not UDP-encapsulated: $(grep INSTALLED <<<"$b")"
for ns in "$NS_SA" "$NS_SB"; do
	[ "$(xt_first_child_json "$ns" encap)" = yes ] || iop_fail "${ns#"$IOP_PFX"-}: --list-sas --json says encap is not yes"
	p=$(xt_first_child_json "$ns" packets-in)
	[ "${p:-0}" -ge 8 ] || iop_fail "${ns#"$IOP_PFX"-}: CHILD_SA counted only ${p:-no} packets in"
done
# NAT detection: only site-a is behind the NAT.
# (swanctl and tsunagictl name only the flags that are set)
na=$(xt_first_ike_json "$NS_SA" nat-local) nb=$(xt_first_ike_json "$NS_SB" nat-local)
ra=$(xt_first_ike_json "$NS_SA" nat-remote) rb=$(xt_first_ike_json "$NS_SB" nat-remote)
iop_note "NAT flags: site-a local=$na remote=$ra, site-b local=$nb remote=$rb"
[ "$na" = yes ] || iop_fail "site-a (behind the NAT) does not see itself behind a NAT (nat-local=$na)"
[ "$rb" = yes ] || iop_fail "site-b does not see site-a behind a NAT (nat-remote=$rb)"
[ "$ra" != yes ] || iop_fail "site-a thinks site-b is behind a NAT (nat-remote=$ra)"
[ "$nb" != yes ] || iop_fail "site-b (public address $SITE_B_OUT) thinks it is behind a NAT (nat-local=$nb):" \
	"the responder must hash the IKE_SA_INIT request's NAT-D with the SPIs of that request (SPIr zero)"
tsu_alive "$NS_SA" && tsu_alive "$NS_SB" || iop_fail "a tsunagid died"
xt_check_sanitizers
iop_pass
