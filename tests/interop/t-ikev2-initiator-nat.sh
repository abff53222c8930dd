#!/bin/bash
# tsunagid at site-a (behind the masquerading NAT) initiates IKEv2 PSK to strongSwan at
# site-b; host-a pings host-b through the tunnel. Both ends must show the SA: swanctl
# (ESTABLISHED, INSTALLED, TUNNEL-in-UDP, peer seen at the NAT's port 4500) and
# tsunagictl --list-sas (the connection and the peer's address).
. "$(dirname "$0")/lib.sh"
iop_begin ikev2-initiator-nat
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"

tsu_conf "$NS_SA" a START_ACTION=start
tsu_start "$NS_SA"

swan_wait_sa "$NS_SB" 20 || iop_fail "strongSwan (site-b) has no ESTABLISHED+INSTALLED SA within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device $TSU_TUN_A"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"

sas=$(swan_list_sas "$NS_SB")
grep -q "TUNNEL-in-UDP" <<<"$sas" || iop_fail "strongSwan's CHILD_SA is not UDP-encapsulated"
grep -q "$NAT_OUT\[4500\]" <<<"$sas" || iop_fail "strongSwan does not see tsunagid at $NAT_OUT port 4500"
iop_wait 5 tsu_shows_sa "$NS_SA" s2s $SITE_B_OUT ||
	iop_fail "tsunagictl --list-sas does not show connection s2s with peer $SITE_B_OUT: $(tsu_list_sas "$NS_SA" | head -5)"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
