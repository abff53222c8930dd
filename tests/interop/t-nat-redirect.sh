#!/bin/bash
# The NAT fast path forwarding what it rewrites itself (daemon/nat_fast.bpf.c
# forward(), nat { fastpath }), in lib-nat.sh's topology through tsunagid's PAT
# alone. A UDP flow l1:41002 <-> srv:9998 (an echo server that answers with the
# TTL and length it got) is in the fast path before the cases that use it:
#   mode      gw has no netfilter rule but tsunagid's: the log says the program
#             forwards the flows it rewrites itself
#   ttl       6 datagrams sent with TTL 64: srv gets TTL 62 (gw and r1 each take
#             one), every one echoed, and nat-fast-redirected grew by at least 10
#   ttl1      a datagram with TTL 1 on that flow: l1 gets "time exceeded" from gw
#             (the kernel's, translated back), not from r1 (it was not sent on)
#   mtu       gw's route to srv with "mtu lock 1200" (a forwarded packet meets a
#             route's MTU only when locked, as in the kernel's ip_forward): a
#             1300-byte datagram with DF gets "fragmentation needed, mtu 1200" from
#             gw; without DF it arrives whole (the kernel fragmented it)
#   firewall  iptables -A FORWARD ... -j DROP for the flow's port in gw: tsunagid
#             sees the rule within seconds, the kernel forwards again and the rule
#             drops the datagrams (none echoed, nothing redirected); the rule gone:
#             the program forwards again and they are echoed
#   tcp       l1 and l2 download 8 MB each at once (curl): SHA-256 equal, and the
#             program forwarded their segments (nat-fast-redirected grew by 200+:
#             GRO makes 16 MB a few hundred packets here)
#   route     srv's address routed into another interface of gw (its neighbour
#             known): nothing redirected
#             there (only the NAT interfaces are a way out for the program)
#   est       tsunagid with fastpath = redirect and a counting rule in FORWARD: the
#             log says established flows only; a new flow's 6 datagrams all echoed,
#             the rule counted the first ones only (each direction's first, and
#             those until the other direction answered), the rest redirected
#   rewrite   tsunagid with fastpath = rewrite: the log says the kernel forwards,
#             the flow is in the fast path and echoed, nothing redirected
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-redirect
iop_require_tsunagid
for c in curl:curl iptables:iptables python3:python3 sha256sum:coreutils; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done
[ -f "$BUILD/daemon/nat_fast.bpf.o" ] ||
	iop_fail "no $BUILD/daemon/nat_fast.bpf.o: configure found no clang or libbpf (packages clang, libbpf-dev)"

SCEN=${SCEN:-"mode ttl ttl1 mtu firewall tcp route est rewrite"}
declare -A RES=()
PORT=9998

nat_topo
cat >"$IOP_WORK/udp.py" <<'EOF'
# udp.py serve ADDR SECONDS: echoes "ttl=T len=N" for each datagram to ADDR:9998.
# udp.py send SPORT DST N TTL SIZE DF: N datagrams from SPORT, 0.1 s apart; prints
# each echo and each ICMP error (type, code, info, offender) that came back.
import select, socket, struct, sys, time
IP_RECVERR, IP_RECVTTL, IP_MTU_DISCOVER = 11, 12, 10
if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s.bind((sys.argv[2], 9998))
    end = time.time() + float(sys.argv[3])
    while time.time() < end:
        if not select.select([s], [], [], 0.5)[0]:
            continue
        data, anc, _, src = s.recvmsg(65535, 64)
        ttl = [struct.unpack("i", d[:4])[0] for l, t, d in anc if t == socket.IP_TTL]
        s.sendto(b"ttl=%d len=%d" % (ttl[0] if ttl else -1, len(data)), src)
    sys.exit(0)
sport, dst, n, ttl, size, df = sys.argv[2], sys.argv[3], *map(int, sys.argv[4:8])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sport)))
s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, 2 if df else 0)
p = select.poll()
p.register(s, select.POLLIN | select.POLLERR)
for i in range(n):
    try:
        s.sendto(b"x" * size, (dst, 9998))
    except OSError as e:
        print("send-error", e.errno)
    end = time.time() + 0.1
    while time.time() < end:
        for _, ev in p.poll(20):
            if ev & select.POLLERR:
                _, anc, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
                for l, t, d in anc:
                    if t == IP_RECVERR and len(d) >= 32:
                        _, origin, typ, code, _, info, _ = struct.unpack("=IBBBBII", d[:16])
                        print("icmp type=%d code=%d info=%d from=%s" %
                              (typ, code, info, socket.inet_ntoa(d[20:24])))
            elif ev & select.POLLIN:
                try:
                    print("echo", s.recv(512).decode())
                except OSError as e:
                    print("recv-error", e.errno)
    sys.stdout.flush()
EOF
ip netns exec "$NS_SRV" timeout 600 python3 "$IOP_WORK/udp.py" serve $NT_SRV 590 \
	>"$IOP_WORK/udp-srv.log" 2>&1 &
mkdir -p "$IOP_WORK/www"
head -c $((8 << 20)) /dev/urandom >"$IOP_WORK/www/blob"
WANT=$(sha256sum <"$IOP_WORK/www/blob" | cut -d' ' -f1)
ip netns exec "$NS_SRV" sh -c "cd '$IOP_WORK/www' && exec timeout 600 python3 -m http.server \
	--bind $NT_SRV 8080" >"$IOP_WORK/www.log" 2>&1 &
iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -lun | grep -q ':$PORT' && ss -ltn | grep -q ':8080'" ||
	iop_fail "servers in srv not up: $(tail -2 "$IOP_WORK/www.log" "$IOP_WORK/udp-srv.log")"

start_gw() {
	NAT_EXTRA=$1 nat_tsu_start "$NS_GW" in0 out0 $NT_LAN || iop_fail "tsunagid did not start its NAT"
	iop_wait 5 tsu_log_has "$NS_GW" "fast path on" || iop_fail "no fast path: $(tail -3 "$(tsu_dir "$NS_GW")/tsunagid.log")"
}
stop_gw() {
	kill -0 "${IOP_TSU_PID[$NS_GW]}" 2>/dev/null || return 0
	kill -TERM "${IOP_TSU_PID[$NS_GW]}"
	iop_wait 10 eval '! kill -0 "${IOP_TSU_PID[$NS_GW]}"'
}
X() { ip netns exec "$NS_GW" "$@"; }
# fwd_is TEXT: tsunagid's last "NAT forwarding:" line has TEXT.
fwd_is() {
	grep -F "NAT forwarding:" "$(tsu_dir "$NS_GW")/tsunagid.log" | tail -1 | grep -qF "$1"
}
# send HOST SPORT N TTL SIZE DF: udp.py's output (also in send.out).
send() {
	ip netns exec "${!1}" timeout 30 python3 "$IOP_WORK/udp.py" send "$2" $NT_SRV "${@:3}" |
		tee "$IOP_WORK/send.out"
}
echoes() { grep -c "^echo" "$IOP_WORK/send.out"; }
redirected() { tsu_counter "$NS_GW" nat-fast-redirected; }
# in_fast SPORT: l1's flow from SPORT is in the fast path.
in_fast() { tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -A1 ":$1 " | grep -q "fast path"; }

t_mode() {
	iop_wait 5 fwd_is "the fast path forwards the flows it rewrites itself" || return 1
	send NS_L1 41002 3 64 100 0 >/dev/null
	iop_wait 5 in_fast 41002
}

t_ttl() {
	local r0 r1
	r0=$(redirected)
	send NS_L1 41002 6 64 100 0 >/dev/null
	r1=$(redirected)
	echo "    ttl: $(echoes) echoed, $(sort "$IOP_WORK/send.out" | uniq -c | tr -s ' ' | tr '\n' ';'); redirected +$((r1 - r0))"
	[ "$(echoes)" = 6 ] && [ "$(grep -c '^echo ttl=62 len=100$' "$IOP_WORK/send.out")" = 6 ] &&
		[ $((r1 - r0)) -ge 10 ]
}

t_ttl1() {
	send NS_L1 41002 1 1 100 0 >/dev/null
	echo "    ttl1: $(tr '\n' ';' <"$IOP_WORK/send.out")"
	grep -q "^icmp type=11 code=0 .*from=" "$IOP_WORK/send.out" &&
		! grep -q "from=$NT_R1" "$IOP_WORK/send.out" && [ "$(echoes)" = 0 ]
}

t_mtu() {
	local rc=0
	X ip route replace $NT_SRV via $NT_R1 mtu lock 1200 || return 1
	send NS_L1 41002 1 64 1300 1 >/dev/null
	echo "    mtu, DF: $(tr '\n' ';' <"$IOP_WORK/send.out")"
	grep -q "^icmp type=3 code=4 info=1200 " "$IOP_WORK/send.out" && [ "$(echoes)" = 0 ] || rc=1
	# l2 (no path MTU learnt yet), without DF: gw fragments it, srv gets it whole.
	send NS_L2 41002 2 64 1300 0 >/dev/null
	echo "    mtu, no DF: $(tr '\n' ';' <"$IOP_WORK/send.out")"
	[ "$(grep -c '^echo ttl=62 len=1300$' "$IOP_WORK/send.out")" = 2 ] || rc=1
	X ip route del $NT_SRV via $NT_R1 || rc=1
	return $rc
}

t_firewall() {
	local r0 r1 a b rc=0
	X iptables -A FORWARD -p udp --dport $PORT -j DROP || return 1
	iop_wait 5 fwd_is "the kernel forwards every packet (nft chain ip filter FORWARD)" || rc=1
	r0=$(redirected)
	send NS_L1 41002 3 64 100 0 >/dev/null
	a=$(echoes)
	r1=$(redirected)
	X iptables -D FORWARD -p udp --dport $PORT -j DROP || return 1
	iop_wait 5 fwd_is "the fast path forwards the flows it rewrites itself" || rc=1
	send NS_L1 41002 3 64 100 0 >/dev/null
	b=$(echoes)
	echo "    firewall: with the rule $a echoed, redirected +$((r1 - r0)); without it $b echoed"
	[ "$a" = 0 ] && [ $((r1 - r0)) = 0 ] && [ "$b" = 3 ] && [ $rc = 0 ]
}

t_tcp() {
	local r0 r1 h ok=0
	r0=$(redirected)
	for h in L1 L2; do
		ns=NS_$h
		ip netns exec "${!ns}" curl -s -m 60 http://$NT_SRV:8080/blob | sha256sum >"$IOP_WORK/dl-$h" &
	done
	wait $(jobs -p | tail -2)
	r1=$(redirected)
	for h in L1 L2; do [ "$(cut -d' ' -f1 "$IOP_WORK/dl-$h")" = "$WANT" ] && ok=$((ok + 1)); done
	echo "    tcp: $ok of 2 downloads whole; redirected +$((r1 - r0))"
	[ $ok = 2 ] && [ $((r1 - r0)) -ge 200 ]
}

t_route() {
	local r0 r1 rc=0
	# (a veth pair: this kernel may have no dummy devices)
	X ip link add dum0 type veth peer name dum1 && X ip link set dum0 up &&
		X ip link set dum1 up && X ip route add $NT_SRV/32 dev dum0 &&
		X ip neigh replace $NT_SRV lladdr 02:00:5e:00:53:01 dev dum0 || return 1
	r0=$(redirected)
	send NS_L1 41002 3 64 100 0 >/dev/null
	r1=$(redirected)
	echo "    route: into dum0: $(echoes) echoed, redirected +$((r1 - r0))"
	[ "$(echoes)" = 0 ] && [ $((r1 - r0)) = 0 ] || rc=1
	X ip link del dum0
	return $rc
}

# fw_count: packets to srv's port the counting rule in gw's FORWARD saw.
fw_count() { X iptables -nvxL FORWARD | awk -v p="dpt:$PORT" '$0 ~ p { n += $1 } END { print n + 0 }'; }

t_est() {
	local r0 r1 c rc=0
	stop_gw || return 1
	X iptables -A FORWARD -p udp --dport $PORT || return 1
	start_gw "fastpath = redirect"
	iop_wait 5 fwd_is "the fast path forwards established flows itself" || rc=1
	r0=$(redirected)
	send NS_L1 41003 6 64 100 0 >/dev/null
	r1=$(redirected)
	c=$(fw_count)
	echo "    est: $(echoes) echoed; FORWARD counted $c of 6; redirected +$((r1 - r0))"
	[ "$(echoes)" = 6 ] && [ "$c" -ge 1 ] && [ "$c" -le 3 ] && [ $((r1 - r0)) -ge 3 ] || rc=1
	X iptables -F FORWARD
	return $rc
}

t_rewrite() {
	local r0 r1
	stop_gw || return 1
	start_gw "fastpath = rewrite"
	iop_wait 5 fwd_is "the kernel forwards every packet (fastpath = rewrite)" || return 1
	r0=$(redirected)
	send NS_L1 41004 6 64 100 0 >/dev/null
	r1=$(redirected)
	echo "    rewrite: $(echoes) echoed; redirected +$((r1 - r0))"
	[ "$(echoes)" = 6 ] && [ $((r1 - r0)) = 0 ] && in_fast 41004
}

start_gw ""
for s in $SCEN; do
	if "t_$s"; then RES[$s]=ok; else RES[$s]=FAIL; fi
done
stop_gw
xt_check_sanitizers

xt_cases_report
[ -z "$BAD" ] || iop_fail "fast path forwarding:$BAD"
iop_pass
