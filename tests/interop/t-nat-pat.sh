#!/bin/bash
# NAT/PAT end to end (tests/interop/lib-nat.sh's topology): two LAN hosts and a LAN
# server behind gw; r1, srv and peer outside, with no route to the LAN. The same
# scenarios run twice, through tsunagid's own NAT (gw has no kernel NAT rule at all:
# nothing works unless tsunagid translates) and through the Linux kernel's (nft
# masquerade, dnat), and are printed side by side:
#   http      both LAN hosts fetch a page from srv (curl, python3 http.server)
#   dns       both LAN hosts ask srv's dnsmasq (dig, UDP)
#   ping      both LAN hosts ping srv (ICMP echo, identifiers as ports)
#   udp-gso   both LAN hosts send UDP super-packets (UDP_SEGMENT, 10 datagrams each)
#             from the same source port: srv gets all 200 datagrams (their checksums
#             right, or its kernel drops them), from two different public ports
#   forward   srv fetches from the LAN server through gw's public port 8081
#   hairpin   a LAN host fetches from the LAN server through gw's public port 8081
#   tracepath a LAN host traces srv: gw answers hop 1 (tsunagid: from the public
#             address, its ICMP error translated from OUTPUT; the kernel: from its
#             inside address), r1 hop 2 (ICMP time exceeded
#             back through PAT), srv "reached" (port unreachable), pmtu 1400
#   frag      a DF ping too big for r1's far side: r1's "fragmentation needed"
#             reaches the LAN host, whose route cache then says mtu 1400
#   bad       hostile input from both sides (python3-scapy): TCP and UDP headers cut
#             short, a UDP length that lies, ICMP errors quoting a truncated header
#             or no known flow, 3000 SYNs from random ports; afterwards the gateway
#             still translates (HTTP again) and tsunagid counted the bad packets
#   reload    (tsunagid only) the forward moves to port 8082 in the file; after SIGHUP
#             8082 reaches the LAN server and 8081 no longer does
#   tunnel    (tsunagid only) meanwhile tsunagid holds its own IKEv2 tunnel to a
#             strongSwan peer on the same public address; a LAN host pings the
#             peer's network through it (NAT exemption)
# PASS when every scenario works through tsunagid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-pat
iop_require_tsunagid
for c in curl:curl dig:dnsutils dnsmasq:dnsmasq tracepath:iputils-tracepath \
	iptables:iptables python3:python3; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done

# scapy comes with Debian's python3 (another python3 on PATH may not have it).
SCAPY_PY=python3
python3 -c 'import scapy' 2>/dev/null || SCAPY_PY=/usr/bin/python3
$SCAPY_PY -c 'import scapy' 2>/dev/null || iop_fail "python3 module scapy missing (package python3-scapy)"

SCEN="tunnel http dns ping udp-gso forward hairpin tracepath frag bad reload"
declare -A RES=()

www() {
	mkdir -p "$IOP_WORK/www-$1"
	echo "hello from $1" >"$IOP_WORK/www-$1/index.html"
	# http.server's own bind looks the address up in DNS (getfqdn): minutes here.
	ip netns exec "$2" sh -c "cd '$IOP_WORK/www-$1' && exec python3 -c '
import http.server, socketserver, sys
class S(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = sys.argv[1], int(sys.argv[2])
S((sys.argv[1], int(sys.argv[2])), http.server.SimpleHTTPRequestHandler).serve_forever()
' $3 $4" \
		>"$IOP_WORK/www-$1.log" 2>&1 &
	iop_wait 5 ip netns exec "$2" sh -c "ss -ltn | grep -q '$3:$4'" ||
		iop_fail "http server $1 not up: $(tail -2 "$IOP_WORK/www-$1.log")"
}

servers() {
	www srv "$NS_SRV" $NT_SRV 8080
	www ls "$NS_LS" $NT_LS 80
	ip netns exec "$NS_SRV" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=$NT_SRV --bind-interfaces --pid-file= --user=root \
		--address=/nat-test.example/192.0.2.7 >"$IOP_WORK/dnsmasq.log" 2>&1 &
	iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -lun | grep -q '$NT_SRV:53'" ||
		iop_fail "dnsmasq not up: $(tail -2 "$IOP_WORK/dnsmasq.log")"
}

# fetch NS URL WORD: the page came and says WORD.
fetch() {
	local out
	out=$(ip netns exec "$1" curl -s -m 5 "$2" 2>&1) && grep -q "$3" <<<"$out"
}

t_http() { fetch "$NS_L1" http://$NT_SRV:8080/ srv && fetch "$NS_L2" http://$NT_SRV:8080/ srv; }
t_dns() {
	local h
	for h in "$NS_L1" "$NS_L2"; do
		[ "$(ip netns exec "$h" dig +short +time=2 +tries=2 @$NT_SRV nat-test.example A)" = 192.0.2.7 ] ||
			return 1
	done
}
t_ping() {
	ip netns exec "$NS_L1" ping -q -c 3 -i 0.2 -W 2 $NT_SRV >/dev/null &&
		ip netns exec "$NS_L2" ping -q -c 3 -i 0.2 -W 2 $NT_SRV >/dev/null
}
t_udp_gso() {
	local out=$IOP_WORK/udp-gso-$MODE.out
	ip netns exec "$NS_SRV" timeout 15 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 9999))
s.settimeout(3)
srcs, n = set(), 0
try:
    while True:
        d, a = s.recvfrom(65535)
        n += 1
        srcs.add(a)
except OSError:
    pass
print(n, len(srcs))' $NT_SRV >"$out" 2>&1 &
	local rx=$! h
	sleep 0.5
	for h in "$NS_L1" "$NS_L2"; do
		ip netns exec "$h" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 40000))
s.setsockopt(socket.IPPROTO_UDP, 103, 1000)     # UDP_SEGMENT
for i in range(10):
    s.sendto(b"x" * 10000, (sys.argv[1], 9999))' $NT_SRV || return 1
	done
	wait $rx
	[ "$(cat "$out")" = "200 2" ]
}

t_forward() { fetch "$NS_SRV" http://$NT_PUB:8081/ "from ls"; }
t_hairpin() { fetch "$NS_L1" http://$NT_PUB:8081/ "from ls"; }
t_tracepath() {
	local out
	out=$(timeout 30 ip netns exec "$NS_L1" tracepath -n -m 6 $NT_SRV 2>&1)
	echo "$out" >"$IOP_WORK/tracepath-$MODE.out"
	grep -Eq '^ *1: +[0-9]' <<<"$out" && grep -Eq "^ *2: +$NT_R1 " <<<"$out" &&
		grep -q "pmtu $NT_FAR_MTU" <<<"$out" && grep -q reached <<<"$out"
}
t_frag() {
	ip netns exec "$NS_L2" ping -c 2 -i 0.3 -W 1 -M do -s 1472 $NT_SRV >"$IOP_WORK/frag-$MODE.out" 2>&1
	ip -n "$NS_L2" route get $NT_SRV | grep -q "mtu $NT_FAR_MTU"
}

t_bad() {
	local before after
	[ "$MODE" = tsunagi ] && before=$(tsu_counter "$NS_GW" nat-drop-malformed)
	timeout 60 ip netns exec "$NS_L1" $SCAPY_PY - $NT_SRV <<-'EOF' >"$IOP_WORK/bad-in.out" 2>&1 || return 1
	import random, sys
	from scapy.all import IP, TCP, UDP, ICMP, Raw, send, conf
	conf.verb = 0
	dst = sys.argv[1]
	bad = []
	for _ in range(50):
	    bad.append(IP(dst=dst, proto=6) / Raw(bytes(TCP(sport=4000, dport=80))[:9]))
	    bad.append(IP(dst=dst, proto=17) / Raw(b"\x10\x00"))
	    bad.append(IP(dst=dst) / UDP(sport=4001, dport=53, len=400) / Raw(b"x" * 8))
	    bad.append(IP(dst=dst) / ICMP(type=3, code=4) / Raw(bytes(IP(src=dst, dst="10.9.0.10", proto=6))[:20] + b"\x01"))
	send(bad)
	send([IP(dst=dst) / TCP(sport=random.randint(1024, 65535), dport=8080, flags="S")
	      for _ in range(3000)])
	EOF
	timeout 60 ip netns exec "$NS_SRV" $SCAPY_PY - $NT_PUB <<-'EOF' >"$IOP_WORK/bad-out.out" 2>&1 || return 1
	import sys
	from scapy.all import IP, TCP, UDP, ICMP, Raw, send, conf
	conf.verb = 0
	pub = sys.argv[1]
	send([IP(dst=pub) / ICMP(type=3, code=3) / Raw(bytes(IP(src=pub, dst="198.51.100.10", proto=17))[:12]),
	      IP(dst=pub) / ICMP(type=11) / IP(src=pub, dst="198.51.100.99") / UDP(sport=1, dport=2),
	      IP(dst=pub, proto=6) / Raw(b"\x00\x50"),
	      IP(dst=pub) / TCP(sport=80, dport=33333, flags="A")] * 20)
	EOF
	t_http || return 1
	[ "$MODE" = tsunagi ] || return 0
	tsu_alive "$NS_GW" || return 1
	after=$(tsu_counter "$NS_GW" nat-drop-malformed)
	[ "$after" -gt "$before" ]
}

t_reload() {
	[ "$MODE" = tsunagi ] || return 2
	sed -i 's/public_port = 8081/public_port = 8082/' "$(tsu_dir "$NS_GW")/tsunagi.conf"
	kill -HUP "${IOP_TSU_PID[$NS_GW]}"
	iop_wait 5 tsu_log_has "$NS_GW" "NAT rules reloaded" || return 1
	fetch "$NS_SRV" http://$NT_PUB:8082/ "from ls" && ! fetch "$NS_SRV" http://$NT_PUB:8081/ "from ls"
}

t_tunnel() {
	[ "$MODE" = tsunagi ] || return 2
	iop_wait 20 tsu_child_up "$NS_GW" || return 1
	tsu_ensure_route "$NS_GW" "tn$$" $NT_PEER_NET || return 1
	PING_WAIT=10 iop_ping "$NS_L1" $NT_PEER_IN 3
}

setup_tsunagi() {
	local conns=$IOP_WORK/conns.conf
	swan_prepare "$NS_PEER"
	s2s_conf "$(swan_dir "$NS_PEER")/swanctl.conf" b LOCAL_ADDRS=$NT_PEER \
		LOCAL_TS=$NT_PEER_NET REMOTE_TS=$NT_LAN
	swan_start "$NS_PEER"
	swan_load "$NS_PEER"
	s2s_conf "$conns" a LOCAL_ADDRS=$NT_PUB REMOTE_ADDRS=$NT_PEER \
		LOCAL_TS=$NT_LAN REMOTE_TS=$NT_PEER_NET START_ACTION=start
	CONNS=$(cat "$conns") nat_tsu_start "$NS_GW" in0 out0 $NT_LAN \
		$'web {\n\t\t\t\ttype = forward\n\t\t\t\tproto = tcp\n\t\t\t\tpublic = out0\n\t\t\t\tpublic_port = 8081\n\t\t\t\tprivate = '$NT_LS$'\n\t\t\t\tprivate_port = 80\n\t\t\t}' \
		$'vpn {\n\t\t\t\ttype = exempt\n\t\t\t\tprivate = '$NT_LAN$'\n\t\t\t\tremote = '$NT_PEER_NET$'\n\t\t\t}' ||
		iop_fail "tsunagid did not start its NAT"
	# What it installed is what --nat-rules prints for an operator who queues by hand.
	"$BUILD/tsunagid" --config "$(tsu_dir "$NS_GW")/tsunagi.conf" --nat-queue 3 --nat-rules |
		grep -Eq -- '-A TSUNAGI-NAT -i in0 -j NFQUEUE --queue-(num 3|balance 3:[0-9]+) --queue-bypass' ||
		iop_fail "tsunagid --nat-rules does not print the in0 queue rule"
	# Nothing but tsunagid translates: gw has no kernel NAT, the outside no way back.
	ip netns exec "$NS_GW" nft list ruleset 2>/dev/null | grep -q 'type nat' && iop_fail "gw has kernel NAT rules"
	ip -n "$NS_R1" route get $NT_L1 >/dev/null 2>&1 && iop_fail "r1 has a route to the LAN"
	return 0
}

setup_kernel() { nat_kernel_rules || iop_fail "nft NAT rules failed"; }

for MODE in tsunagi kernel; do
	nat_topo
	servers
	"setup_$MODE"
	for s in $SCEN; do
		"t_${s//-/_}"
		case $? in
		0) RES[$MODE,$s]=ok ;;
		2) RES[$MODE,$s]=- ;;
		*) RES[$MODE,$s]=FAIL ;;
		esac
	done
	if [ "$MODE" = tsunagi ]; then
		tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-nat.out" 2>&1
		tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
		# The daemon removes its raw-table rules when it stops.
		kill -TERM "${IOP_TSU_PID[$NS_GW]}"
		iop_wait 10 eval '! kill -0 "${IOP_TSU_PID[$NS_GW]}"'
		ip netns exec "$NS_GW" iptables -t raw -S 2>/dev/null | grep -q TSUNAGI &&
			RES[tsunagi,cleanup]=FAIL || RES[tsunagi,cleanup]=ok
		# A sanitizer build (BUILD=build-asan) reports into the log at exit.
		xt_check_sanitizers
	fi
	[ "${KEEP_TOPO:-0}" = 1 ] || topo_destroy
done
RES[kernel,cleanup]=-

printf '    %-10s %-8s %-8s\n' scenario tsunagi kernel
bad=""
for s in $SCEN cleanup; do
	printf '    %-10s %-8s %-8s\n' "$s" "${RES[tsunagi,$s]}" "${RES[kernel,$s]}"
	[ "${RES[tsunagi,$s]}" = FAIL ] && bad="$bad $s"
done
if [ -n "$bad" ]; then
	[ -f "$IOP_WORK/tracepath-tsunagi.out" ] && sed 's/^/    tracepath| /' "$IOP_WORK/tracepath-tsunagi.out"
	[ -f "$IOP_WORK/counters.out" ] && grep -v ': 0$' "$IOP_WORK/counters.out" | grep nat | sed 's/^/    /'
	iop_fail "through tsunagid's NAT:$bad"
fi
iop_pass
