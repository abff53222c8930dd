#!/bin/bash
# Proves the harness: strongSwan at site-a (behind the masquerading NAT) <-> strongSwan
# at site-b, IKEv2 PSK, AES-256-GCM + X25519. host-a pings host-b through the tunnel;
# both `swanctl --list-sas` show the SA with UDP encapsulation; the NAT saw IKE float to
# port 4500. With SEED_OUT=DIR, the captured IKE_SA_INIT/IKE_AUTH messages are saved
# there as raw IKE messages (fuzz seeds for fuzz_ikev2).
. "$(dirname "$0")/lib.sh"
iop_begin harness-strongswan
iop_require_cmd /usr/lib/ipsec/charon strongswan-charon
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd tshark tshark
iop_require_cmd xxd xxd

topo_build nat
cap_start "$NS_NAT" "$CAPTURE_IF" "$IOP_WORK/ike.pcap" "udp port 500 or udp port 4500"

swan_prepare "$NS_SA"
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net

swan_wait_sa "$NS_SA" 20 || iop_fail "site-a: no ESTABLISHED+INSTALLED SA within 20 s"
swan_wait_sa "$NS_SB" 5 || iop_fail "site-b: no ESTABLISHED+INSTALLED SA"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel"

for ns in "$NS_SA" "$NS_SB"; do
	sas=$(swan_list_sas "$ns")
	grep -q "TUNNEL-in-UDP" <<<"$sas" || iop_fail "${ns#"$IOP_PFX"-}: CHILD_SA not UDP-encapsulated (TUNNEL-in-UDP)"
	grep -q "AES_GCM_16-256" <<<"$sas" || iop_fail "${ns#"$IOP_PFX"-}: CHILD_SA not AES_GCM_16-256"
	grep -q "CURVE_25519" <<<"$sas" || iop_fail "${ns#"$IOP_PFX"-}: IKE SA not CURVE_25519"
done
grep -q "$NAT_OUT\[4500\]" <<<"$(swan_list_sas "$NS_SB")" ||
	iop_fail "site-b does not see site-a at $NAT_OUT port 4500"
swan_log_has "$NS_SA" "local host is behind NAT" || iop_fail "site-a did not detect the NAT"

cap_stop
n500=$(tshark -r "$IOP_WORK/ike.pcap" -n -Y "udp.port == 500" 2>/dev/null | wc -l)
n4500=$(tshark -r "$IOP_WORK/ike.pcap" -n -Y "isakmp && udp.port == 4500" 2>/dev/null | wc -l)
[ "$n500" -ge 2 ] && [ "$n4500" -ge 2 ] ||
	iop_fail "capture: expected IKE on 500 then 4500, saw $n500 on 500 and $n4500 on 4500"
if [ -n "${SEED_OUT:-}" ]; then
	n=$(cap_ike_seeds "$IOP_WORK/ike.pcap" "$SEED_OUT" strongswan)
	echo "    saved $n IKE messages to $SEED_OUT" >&2
fi
iop_pass
