#!/bin/bash
# tsunagid <-> tsunagid with no NAT on the path: the ESP packets on the wire must be raw
# ESP (IP protocol 50), not UDP-encapsulated, and host-a pings host-b through them.
. "$(dirname "$0")/lib.sh"
iop_begin raw-esp
iop_require_tsunagid
iop_require_cmd tshark tshark

topo_build direct
cap_start "$NS_NAT" br0 "$IOP_WORK/wire.pcap" "esp or udp port 4500 or udp port 500"
tsu_conf "$NS_SB" b REMOTE_ADDRS=$SITE_A_OUT
tsu_conf "$NS_SA" a START_ACTION=start
tsu_start "$NS_SB"
tsu_start "$NS_SA"
iop_wait 20 tsu_child_up "$NS_SA" || iop_fail "no CHILD_SA at site-a within 20 s: $(tsu_list_sas "$NS_SA" | head -3)"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device $TSU_TUN_A"
tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "no TUN device $TSU_TUN_B"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"
cap_stop
nesp=$(tshark -r "$IOP_WORK/wire.pcap" -n -Y "ip.proto == 50" 2>/dev/null | wc -l)
nudp=$(tshark -r "$IOP_WORK/wire.pcap" -n -Y "udp.port == 4500" 2>/dev/null | wc -l)
[ "$nesp" -ge 10 ] || iop_fail "expected raw ESP on the wire, saw $nesp ESP and $nudp UDP-4500 packets"
[ "$nudp" = 0 ] || iop_fail "$nudp packets on UDP 4500 although there is no NAT"
tsu_alive "$NS_SA" && tsu_alive "$NS_SB" || iop_fail "a tsunagid died"
iop_pass
