#!/bin/bash
# L2TP/IPsec as the Windows and macOS built-in clients use it (requirements section 5:
# remote-access client behind NAT, server behind static NAT, transport mode). The
# server, tsunagid in host-b (10.2.0.10), sits behind a static NAT at site-b
# (198.51.100.2 <-> 10.2.0.10 for UDP 500/4500); its connection takes any peer
# (remote_addrs = %any), IKEv1 with a PSK, a transport-mode child with
# dynamic[udp/1701] selectors and the proposals those clients send (AES-CBC/SHA-1 with
# MODP 1024 and 2048, 3DES as the fallback). A local "L2TP endpoint" (a UDP echo on
# port 1701) answers there. The client is a tsunagid at site-a behind the masquerading
# NAT, negotiating as Windows does: its private address as its identity and as its
# selector, UDP 1701 to the server's public address, NAT-T and NAT-OA. strongSwan
# cannot be this client here: its kernel-libipsec carries tunnel mode only and this
# kernel has no XFRM ESP; it is run first as far as it goes (Main Mode, its Quick
# Mode taken and answered, then charon cannot install a transport-mode SA). Checked: both ends have a transport-mode SA in UDP 4500,
# the server's selectors are the addresses it sees (the client's NAT, its own), the
# NAT-OA is logged, and UDP 1701 datagrams from the client are answered through the SA,
# while other traffic from the server to the client's NAT address goes in the clear.
# Then a second client behind the same NAT comes up beside the first, with its own SA,
# and both are answered: the server tells them apart by their NAT-T ports, which its
# policies name for their UDP 1701 (the endpoint sees the NAT's address with each).
# Last, the NAT moves the remaining client to another port under its running SA: its
# next DPD R-U-THERE shows the server the new mapping, and the server follows (its
# policies for that client's UDP 1701 now name the new port) so that the client's
# datagrams are answered again within a bounded time.
. "$(dirname "$0")/lib.sh"
iop_begin l2tp-ipsec
iop_require_tsunagid
iop_require_cmd python3 python3
iop_require_cmd nft nftables
iop_require_cmd conntrack conntrack

topo_build nat
SERVER=$HOST_B SERVER_PUB=$SITE_B_OUT CLIENT_NAT=$NAT_OUT
PSK="l2tp-interop-psk-0123456789"

# site-b: a static NAT for the server's IKE and ESP in UDP (it runs no daemon itself).
ip netns exec "$NS_SB" nft -f - <<EOF || iop_fail "static NAT rules failed"
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "out0" udp dport { 500, 4500 } dnat to $SERVER
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "out0" ip saddr $SERVER snat to $SERVER_PUB
	}
}
EOF

# tsunagi { } section with a TUN name and the IKE log level.
daemon_section() {
	printf 'tsunagi {\n\ttun = %s\n\tretransmit_timeout = 1\n\tlog {\n\t\tike = 2\n\t}\n}\n' "$1"
}

server_conf() {
	local dir
	dir=$(tsu_dir "$NS_HB")
	mkdir -p "$dir"
	cat >"$dir/tsunagi.conf" <<EOF
connections {
	l2tp {
		version = 1
		remote_addrs = %any
		proposals = aes256-sha1-modp1024, aes128-sha1-modp2048, aes256-sha1-modp2048, 3des-sha1-modp1024
		local {
			auth = psk
		}
		remote {
			auth = psk
		}
		children {
			l2tp {
				mode = transport
				local_ts = dynamic[udp/1701]
				remote_ts = dynamic[udp/1701]
				esp_proposals = aes256-sha1, aes128-sha1, 3des-sha1
			}
		}
	}
}
secrets {
	ike-l2tp {
		secret = "$PSK"
	}
}
EOF
	daemon_section tsl$$ >>"$dir/tsunagi.conf"
}

# client_conf NS ADDR TUN: a client as Windows negotiates (its address as its id).
client_conf() {
	local dir
	dir=$(tsu_dir "$1")
	mkdir -p "$dir"
	cat >"$dir/tsunagi.conf" <<EOF
connections {
	l2tp {
		version = 1
		local_addrs = $2
		remote_addrs = $SERVER_PUB
		proposals = aes256-sha1-modp1024
		dpd_delay = 2s
		local {
			auth = psk
			id = $2
		}
		remote {
			auth = psk
		}
		children {
			l2tp {
				mode = transport
				local_ts = dynamic[udp/1701]
				remote_ts = dynamic[udp/1701]
				esp_proposals = aes256-sha1
				start_action = start
			}
		}
	}
}
secrets {
	ike-l2tp {
		secret = "$PSK"
	}
}
EOF
	daemon_section "$3" >>"$dir/tsunagi.conf"
}

# l2tp_ping NS SRC N: N datagrams from SRC:1701 to the server's public address, each
# answered by the echo; prints how many answers were right.
l2tp_ping() {
	ip netns exec "$1" timeout 30 python3 -c '
import socket, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, 1701)); s.settimeout(2); ok = 0
for i in range(n):
    msg = ("hello %s %d" % (src, i)).encode()
    s.sendto(msg, (dst, 1701))
    try:
        d, a = s.recvfrom(2048)
        ok += d == b"L2TP-ECHO:" + msg and a == (dst, 1701)
    except socket.timeout:
        pass
print(ok)' "$2" "$SERVER_PUB" "$3" 2>>"$IOP_WORK/l2tp-ping.err"
}

# The L2TP endpoint: a UDP echo on port 1701 of the server (no L2TP itself).
ip netns exec "$NS_HB" timeout 170 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 1701))
log = open(sys.argv[1], "a", buffering=1)
while True:
    d, a = s.recvfrom(2048)
    log.write("%s %d\n" % a)
    s.sendto(b"L2TP-ECHO:" + d, a)' "$IOP_WORK/echo-peers.log" >"$IOP_WORK/echo.log" 2>&1 &

server_conf
tsu_start "$NS_HB"

# 0. strongSwan as the client, as far as it can go here: Main Mode with NAT-T across
# both NATs, then its Quick Mode (transport mode, its private address with UDP 1701)
# is taken by the server and answered; charon then fails to install it.
swan_prepare "$NS_SA"
cat >"$(swan_dir "$NS_SA")/swanctl.conf" <<EOF
connections {
	l2tp {
		version = 1
		remote_addrs = $SERVER_PUB
		proposals = aes256-sha1-modp1024
		local {
			auth = psk
			id = $SITE_A_OUT
		}
		remote {
			auth = psk
		}
		children {
			l2tp {
				mode = transport
				local_ts = dynamic[udp/1701]
				remote_ts = dynamic[udp/1701]
				esp_proposals = aes256-sha1
			}
		}
	}
}
secrets {
	ike-l2tp {
		secret = "$PSK"
	}
}
EOF
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" l2tp
iop_wait 15 tsu_log_has "$NS_HB" "NAT-OA: initiator $SITE_A_OUT, responder $SERVER_PUB" ||
	iop_fail "strongSwan client: the server took no Quick Mode with NAT-OA"
iop_wait 5 swan_log_has "$NS_SA" "selected proposal: ESP:AES_CBC_256/HMAC_SHA1_96" ||
	iop_fail "strongSwan client: no answer to its Quick Mode"
iop_wait 5 swan_log_has "$NS_SA" "unsupported mode" ||
	iop_fail "strongSwan client: charon did not stop where expected (kernel-libipsec)"
iop_stop_gateways "$NS_SA"
iop_register_log "tsunagid in hb" "$(tsu_dir "$NS_HB")/tsunagid.log"
tsu_ctl "$NS_HB" --terminate --ike l2tp >/dev/null 2>&1

# 1. A client behind the masquerading NAT.
client_conf "$NS_SA" "$SITE_A_OUT" tsc$$
tsu_start "$NS_SA"
iop_wait 20 tsu_child_up "$NS_SA" || iop_fail "client: no CHILD_SA within 20 s"
iop_wait 5 tsu_child_up "$NS_HB" || iop_fail "server: no CHILD_SA"
s=$(tsu_list_sas "$NS_HB")
grep -q "TRANSPORT" <<<"$s" || iop_fail "server: the CHILD_SA is not in transport mode: $s"
grep -q "$CLIENT_NAT/32\[udp/1701\]" <<<"$s" ||
	iop_fail "server: the remote selector is not the client's NAT $CLIENT_NAT[udp/1701]: $s"
grep -q "$SERVER/32\[udp/1701\]" <<<"$s" ||
	iop_fail "server: the local selector is not its own $SERVER[udp/1701]: $s"
grep -q "$CLIENT_NAT\[[0-9]*\]" <<<"$s" || iop_fail "server: the peer is not $CLIENT_NAT: $s"
tsu_log_has "$NS_HB" "NAT-OA: initiator $SITE_A_OUT, responder $SERVER_PUB" ||
	iop_fail "server: no NAT-OA with the client's private and the server's public address"
tsu_list_sas "$NS_SA" | grep -q "TRANSPORT" || iop_fail "client: the CHILD_SA is not in transport mode"
n=$(l2tp_ping "$NS_SA" "$SITE_A_OUT" 5)
[ "$n" = 5 ] || iop_fail "client: ${n:-0} of 5 UDP 1701 datagrams answered through the SA"

# Other traffic from the server to the client's NAT address (another host behind that
# NAT, here the NAT itself) is not the SA's: it goes on in the clear, not into the
# tunnel where no policy takes it.
ip netns exec "$NS_NAT" timeout 10 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'"$CLIENT_NAT"'", 7777))
d, a = s.recvfrom(100)
s.sendto(d, a)' >/dev/null 2>&1 &
sleep 0.3
ip netns exec "$NS_HB" timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"other", (sys.argv[1], 7777))
sys.exit(0 if s.recvfrom(100)[0] == b"other" else 1)' "$CLIENT_NAT" 2>/dev/null ||
	iop_fail "server: other UDP to the client's NAT address ($CLIENT_NAT port 7777) was lost (esp-no-policy $(tsu_counter "$NS_HB" esp-no-policy))"

# 2. A second client behind the same NAT, beside the first: a host of its own on the
# NAT's inside (site-a routes the server's address into its tunnel).
C2=100.64.1.2
ns_add c2
veth "$NS_NAT" in1 "$NS_C2" eth0
addr "$NS_NAT" in1 100.64.1.1/24
addr "$NS_C2" eth0 $C2/24
route "$NS_C2" default via 100.64.1.1
client_conf "$NS_C2" "$C2" tsd$$
tsu_start "$NS_C2"
iop_wait 20 tsu_child_up "$NS_C2" || iop_fail "second client: no CHILD_SA within 20 s"
iop_wait 5 eval '[ "$(tsu_child_count "$NS_HB")" = 2 ]' ||
	iop_fail "server: $(tsu_child_count "$NS_HB") CHILD_SAs with two clients behind one NAT"
tsu_child_up "$NS_SA" || iop_fail "the first client lost its CHILD_SA when the second came"
n=$(l2tp_ping "$NS_C2" "$C2" 5)
[ "$n" = 5 ] || iop_fail "second client: ${n:-0} of 5 UDP 1701 datagrams answered through its SA"
n=$(l2tp_ping "$NS_SA" "$SITE_A_OUT" 5)
[ "$n" = 5 ] || iop_fail "first client, with the second up: ${n:-0} of 5 UDP 1701 datagrams answered"
# The echo saw two clients: the NAT's address with each one's NAT-T port.
n=$(sort -u "$IOP_WORK/echo-peers.log" | grep -c "^$CLIENT_NAT ")
[ "$n" = 2 ] || iop_fail "the L2TP endpoint saw $n distinct clients, not 2: $(sort -u "$IOP_WORK/echo-peers.log" | tr '\n' ' ')"
# One rule per client for its UDP 1701 (its NAT-T port), none left when it goes.
port_rules() { ip -n "$NS_HB" rule | grep -c "ipproto udp.*lookup 221"; }
[ "$(port_rules)" = 2 ] || iop_fail "server: $(port_rules) UDP 1701 rules for two clients: $(ip -n "$NS_HB" rule)"
tsu_ctl "$NS_SA" --terminate --ike l2tp >/dev/null 2>&1
iop_wait 10 eval '[ "$(tsu_child_count "$NS_HB")" = 1 ]' ||
	iop_fail "server: the first client's SA is still there after its terminate"
[ "$(port_rules)" = 1 ] || iop_fail "server: $(port_rules) UDP 1701 rules left for one client"
n=$(l2tp_ping "$NS_C2" "$C2" 3)
[ "$n" = 3 ] || iop_fail "second client, alone again: ${n:-0} of 3 answered"

# 3. The NAT gives the second client another port: the old mapping is forgotten.
ip netns exec "$NS_NAT" nft flush chain ip nat postrouting || iop_fail "nft flush failed"
ip netns exec "$NS_NAT" nft add rule ip nat postrouting oifname out0 ip protocol udp \
	snat to "$CLIENT_NAT:35000-35999" || iop_fail "nft snat rule failed"
ip netns exec "$NS_NAT" nft add rule ip nat postrouting oifname out0 masquerade ||
	iop_fail "nft masquerade rule failed"
ip netns exec "$NS_NAT" conntrack -F >/dev/null 2>&1 || iop_fail "conntrack -F failed in the NAT"
t0=$(date +%s)
iop_wait 20 tsu_log_has "$NS_HB" "peer moved from $CLIENT_NAT\[[0-9]+\] to $CLIENT_NAT\[35[0-9]{3}\]" ||
	iop_fail "port change: the server never followed the client's new mapping within 20 s"
iop_wait 10 eval '[ "$(l2tp_ping "$NS_C2" "$C2" 1)" = 1 ]' ||
	iop_fail "port change: UDP 1701 not answered again within 10 s of the server following"
n=$(l2tp_ping "$NS_C2" "$C2" 3)
[ "$n" = 3 ] || iop_fail "port change: ${n:-0} of 3 answered after the move"
echo "port change: answered again $(( $(date +%s) - t0 )) s after the NAT moved"
grep -q "^$CLIENT_NAT 35[0-9][0-9][0-9]$" "$IOP_WORK/echo-peers.log" ||
	iop_fail "port change: the L2TP endpoint never saw the client's new port: $(sort -u "$IOP_WORK/echo-peers.log" | tr '\n' ' ')"
[ "$(port_rules)" = 1 ] || iop_fail "port change: $(port_rules) UDP 1701 rules for one client: $(ip -n "$NS_HB" rule)"
tsu_ctl "$NS_HB" --spd 2>&1 | grep -q "$CLIENT_NAT/32\[35[0-9]\{3\}\]" ||
	iop_fail "port change: the server's policies do not name the new port: $(tsu_ctl "$NS_HB" --spd 2>&1 | head -6 | tr '\n' ' ')"
tsu_alive "$NS_HB" || iop_fail "the server died"
iop_pass
