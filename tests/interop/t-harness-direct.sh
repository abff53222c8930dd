#!/bin/bash
# The topology without NAT (nat is a bridge, site-a at 198.51.100.3): strongSwan <->
# strongSwan, host-a pings host-b. strongSwan's kernel-libipsec still encapsulates ESP in
# UDP 4500 here (its NAT-D hashes cannot match), so this only proves the topology that
# t-raw-esp.sh uses between two tsunagids.
. "$(dirname "$0")/lib.sh"
iop_begin harness-direct
iop_require_cmd swanctl strongswan-swanctl

topo_build direct
swan_prepare "$NS_SA"; swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b REMOTE_ADDRS=$SITE_A_OUT
swan_start "$NS_SB"; swan_load "$NS_SB"
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
swan_wait_sa "$NS_SA" 20 || iop_fail "site-a: no ESTABLISHED+INSTALLED SA within 20 s"
grep -q "$SITE_A_OUT\[" <<<"$(swan_list_sas "$NS_SB")" || iop_fail "site-b does not see site-a at $SITE_A_OUT"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel"
iop_pass
