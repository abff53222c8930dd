#!/bin/bash
# strongSwan at site-a (behind the masquerading NAT) initiates IKEv2 PSK to tsunagid at
# site-b, which must detect the NAT, float to port 4500 and encapsulate ESP in UDP.
# host-a pings host-b through the tunnel; both ends show the SA.
. "$(dirname "$0")/lib.sh"
iop_begin ikev2-responder-nat
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
tsu_conf "$NS_SB" b
tsu_start "$NS_SB"

swan_prepare "$NS_SA"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net

swan_wait_sa "$NS_SA" 20 || iop_fail "strongSwan (site-a) has no ESTABLISHED+INSTALLED SA within 20 s"
tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "tsunagid created no TUN device $TSU_TUN_B"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"
iop_ping "$NS_HB" $HOST_A 3 || iop_fail "host-b cannot ping host-a through the tunnel"

sas=$(swan_list_sas "$NS_SA")
grep -q "TUNNEL-in-UDP" <<<"$sas" || iop_fail "strongSwan's CHILD_SA is not UDP-encapsulated"
grep -q "$SITE_B_OUT\[4500\]" <<<"$sas" || iop_fail "strongSwan did not float to tsunagid's port 4500"
swan_log_has "$NS_SA" "local host is behind NAT" || iop_fail "strongSwan saw no NAT: tsunagid's NAT-D payloads wrong?"
iop_wait 5 tsu_shows_sa "$NS_SB" s2s $NAT_OUT ||
	iop_fail "tsunagictl --list-sas does not show connection s2s with peer $NAT_OUT: $(tsu_list_sas "$NS_SB" | head -5)"
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
iop_pass
