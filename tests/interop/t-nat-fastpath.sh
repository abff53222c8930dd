#!/bin/bash
# The NAT fast path (daemon/nat_fast.c, daemon/nat_fast.bpf.c) in lib-nat.sh's
# topology, through tsunagid's PAT alone (gw has no kernel NAT rule):
#   loaded    tsunagid says so and its tc program is on in0 and out0
#   download  l1 fetches 32 MB from srv (curl); SHA-256 equal at both ends; the
#             flow's packets were not queued (nat-queued grows by a few dozen, not
#             by the ~25,000 segments) and --list-nat showed it in the fast path
#   upload    l1 sends 32 MB to srv (tcp_transfer_whole): the same
#   short     50 short connections (curl of a small page): about 2 packets each
#             queued (SYN and SYN-ACK; the FINs go fast and are told to tsunagid
#             through the program's ring buffer), and every flow closes and goes
#             (tcp_closed = 2s) as if its FINs had been queued
#   active    a rate-limited download lasts 3 times the TCP idle timeouts (4 s)
#             with every packet in the fast path: tsunagid must not expire it
#             (the download completes, SHA-256 equal, nat-fast-kept > 0)
#   udp       l1 and srv exchange 40 datagrams each way over 8 s (udp = 3s): all
#             arrive, the flow is fast in both directions and is never expired
#   idle      then silence: the flow expires, --list-nat no longer has it, its
#             entries are gone (srv's datagram to the old public port no longer
#             reaches l1) and nat-fast-removed counted it
#   off       tsunagid again with fastpath = no: no tc program, the download works
#             through the queue alone (nat-fast-added 0)
#   noprog    a tsunagid that finds no program (a copy of it elsewhere, nothing
#             installed): one log line says so, and the download works as with off
#   cleanup   after tsunagid stops, neither its tc program nor its iptables rules remain
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-fastpath
iop_require_tsunagid
for c in curl:curl tc:iproute2 iptables:iptables python3:python3 sha256sum:coreutils; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done
[ -f "$BUILD/daemon/nat_fast.bpf.o" ] ||
	iop_fail "no $BUILD/daemon/nat_fast.bpf.o: configure found no clang or libbpf (packages clang, libbpf-dev)"

MB=32
SCEN="loaded download upload short active udp idle off noprog cleanup"
declare -A RES=()

nat_topo
mkdir -p "$IOP_WORK/www"
echo small >"$IOP_WORK/www/small"
head -c $((MB << 20)) /dev/urandom >"$IOP_WORK/www/blob"
WANT=$(sha256sum <"$IOP_WORK/www/blob" | cut -d' ' -f1)
ip netns exec "$NS_SRV" sh -c "cd '$IOP_WORK/www' && exec python3 -c '
import http.server, socketserver, sys
class S(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = sys.argv[1], 8080
S((sys.argv[1], 8080), http.server.SimpleHTTPRequestHandler).serve_forever()
' $NT_SRV" >"$IOP_WORK/www.log" 2>&1 &
iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -ltn | grep -q '$NT_SRV:8080'" ||
	iop_fail "http server not up: $(tail -2 "$IOP_WORK/www.log")"

start_gw() {
	NAT_EXTRA=$1 nat_tsu_start "$NS_GW" in0 out0 $NT_LAN || iop_fail "tsunagid did not start its NAT"
	ip netns exec "$NS_GW" nft list ruleset 2>/dev/null | grep -q 'type nat' && iop_fail "gw has kernel NAT rules"
	return 0
}

stop_gw() {
	kill -0 "${IOP_TSU_PID[$NS_GW]}" 2>/dev/null || return 0
	kill -TERM "${IOP_TSU_PID[$NS_GW]}"
	iop_wait 10 eval '! kill -0 "${IOP_TSU_PID[$NS_GW]}"'
}

# tc_has_prog DEV: tsunagi's program is at DEV's ingress: a tc filter, or a tcx
# link that some process of gw holds (tc does not show those; fdinfo does).
tc_has_prog() {
	ip netns exec "$NS_GW" tc filter show dev "$1" ingress 2>/dev/null | grep -q nat_fast && return 0
	local idx pid
	idx=$(ip -n "$NS_GW" -o link show "$1" 2>/dev/null | cut -d: -f1)
	[ -n "$idx" ] || return 1
	pid=${IOP_TSU_PID[$NS_GW]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	grep -ls "^link_type:.*tcx" /proc/"$pid"/fdinfo/* 2>/dev/null |
		xargs -r grep -lxs "ifindex:[[:space:]]*$idx" | grep -q .
}

# download [RATE]: l1 fetches the blob; its SHA-256 must be srv's.
download() {
	local got
	got=$(ip netns exec "$NS_L1" curl -s -m 60 ${1:+--limit-rate $1} http://$NT_SRV:8080/blob | sha256sum)
	[ "${got%% *}" = "$WANT" ]
}

# queued_during CMD...: runs CMD; prints the packets tsunagid's queue got meanwhile.
queued_during() {
	local before after rc
	before=$(tsu_counter "$NS_GW" nat-queued)
	"$@" >"$IOP_WORK/cmd.out" 2>&1
	rc=$?
	after=$(tsu_counter "$NS_GW" nat-queued)
	echo $((after - before))
	return $rc
}

t_loaded() {
	iop_wait 5 tsu_log_has "$NS_GW" "fast path on" && tc_has_prog in0 && tc_has_prog out0
}

t_download() {
	local q
	# --list-nat while it runs: the flow is in the fast path.
	( sleep 1; tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-dl.out" 2>&1 ) &
	local lister=$!
	q=$(queued_during download 10M) || return 1
	wait $lister
	echo "    download: $MB MB, $q packets queued"
	grep -q "fast path" "$IOP_WORK/list-dl.out" && [ "$q" -lt 200 ]
}

t_upload() {
	local q
	q=$(queued_during tcp_transfer_whole "$NS_L1" "$NS_SRV" $NT_SRV $((MB << 20)) 60) ||
		{ cat "$IOP_WORK/cmd.out"; return 1; }
	echo "    upload: $MB MB, $q packets queued"
	[ "$q" -lt 200 ]
}

fifty() {
	local i
	for i in $(seq 50); do
		ip netns exec "$NS_L1" curl -s -m 5 http://$NT_SRV:8080/small | grep -q small || return 1
	done
}

t_short() {
	local q
	iop_wait 15 eval '! tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -q "^TCP "' || return 1
	q=$(queued_during fifty) || return 1
	echo "    short: 50 connections, $q packets queued"
	[ "$q" -le 150 ] || return 1
	# Closed by the FINs the core was told about: gone after tcp_closed (2 s),
	# not after tcp (4 s) or later.
	sleep 1
	tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-short.out" 2>&1
	[ "$(grep -c '^TCP .*CLOSED' "$IOP_WORK/list-short.out")" -ge 1 ] || return 1
	! grep -q '^TCP .*ESTABLISHED\|^TCP .*FIN_WAIT' "$IOP_WORK/list-short.out"
}

t_active() {
	local kept0 kept1 exp0 exp1
	kept0=$(tsu_counter "$NS_GW" nat-fast-kept)
	exp0=$(tsu_counter "$NS_GW" nat-flows-expired)
	# 32 MB at 2.5 MB/s: about 13 s, 3 idle timeouts of 4 s.
	download 2500K || return 1
	kept1=$(tsu_counter "$NS_GW" nat-fast-kept)
	exp1=$(tsu_counter "$NS_GW" nat-flows-expired)
	echo "    active: nat-fast-kept $kept0 -> $kept1, nat-flows-expired $exp0 -> $exp1"
	[ "$kept1" -gt "$kept0" ]
}

t_udp() {
	local n log
	# The TCP flows before are gone first (tcp_closed = 2s): what is removed from
	# now on is the UDP flow's.
	iop_wait 15 eval '! tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -q "^TCP "' || return 1
	REM0=$(tsu_counter "$NS_GW" nat-fast-removed)
	ip netns exec "$NS_SRV" timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9998)); s.settimeout(5)
n, srcs = 0, set()
try:
    while True:
        d, a = s.recvfrom(2048); n += 1; srcs.add(a); s.sendto(b"re:" + d, a)
except OSError:
    pass
print(n, " ".join("%s:%d" % a for a in srcs))' $NT_SRV >"$IOP_WORK/udp-srv.out" 2>&1 &
	local srv=$!
	sleep 0.5
	( sleep 4; tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-udp.out" 2>&1 ) &
	local lister=$!
	n=$(ip netns exec "$NS_L1" timeout 20 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 41000)); s.settimeout(2)
got = 0
for i in range(40):
    s.sendto(b"%d" % i, (sys.argv[1], 9998))
    try:
        d, a = s.recvfrom(2048)
        got += d == b"re:%d" % i
    except OSError:
        pass
    time.sleep(0.2)
print(got)' $NT_SRV)
	log=$(tsu_dir "$NS_GW")/tsunagid.log
	local early
	early=$(grep -c 'Teardown UDP.*inside:10.9.0.10/41000' "$log")
	wait $srv
	wait $lister
	# One flow all along: built once, not torn down while it was busy.
	echo "    udp: $n of 40 echoed; srv: $(cat "$IOP_WORK/udp-srv.out");" \
		"built $(grep -c 'Built outbound UDP.*inside:10.9.0.10/41000' "$log")," \
		"torn down while busy $early"
	UDP_PUB=$(awk '{print $2}' "$IOP_WORK/udp-srv.out")
	[ "$n" = 40 ] && [ "$(awk '{print $1}' "$IOP_WORK/udp-srv.out")" = 40 ] &&
		[ "$(grep -c 'Built outbound UDP.*inside:10.9.0.10/41000' "$log")" = 1 ] || return 1
	[ "$early" = 0 ] || return 1
	# Both directions went through the fast path (its counts, out/in, not 0/0).
	grep -A1 ":41000 " "$IOP_WORK/list-udp.out" | grep -Eq "fast path: [1-9][0-9]*/[1-9]"
}

t_idle() {
	local rem0=${REM0:-0} rem1
	[ -n "${UDP_PUB:-}" ] || return 1
	# udp = 3s; the timer looks once a second.
	iop_wait 10 eval '! tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -q ":41000 "' || return 1
	rem1=$(tsu_counter "$NS_GW" nat-fast-removed)
	echo "    idle: nat-fast-removed $rem0 -> $rem1"
	[ "$rem1" = $((rem0 + 1)) ] || return 1
	# Gone from the map too: srv's datagram to the old public port stays at gw.
	ip netns exec "$NS_L1" timeout 10 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 41000)); s.settimeout(3)
try:
    s.recvfrom(2048); print("got")
except OSError:
    print("none")' >"$IOP_WORK/idle-l1.out" 2>&1 &
	local l1=$!
	sleep 0.5
	ip netns exec "$NS_SRV" python3 -c '
import socket, sys
h, p = sys.argv[2].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9998))
for _ in range(3): s.sendto(b"late", (h, int(p)))' $NT_SRV "$UDP_PUB"
	wait $l1
	[ "$(cat "$IOP_WORK/idle-l1.out")" = none ]
}

t_off() {
	stop_gw
	start_gw "fastpath = no"
	! tc_has_prog in0 && ! tc_has_prog out0 || return 1
	download || return 1
	local q
	q=$(tsu_counter "$NS_GW" nat-queued)
	echo "    off: $MB MB, $q packets queued"
	[ "$(tsu_counter "$NS_GW" nat-fast-added)" = 0 ] && [ "$q" -gt 300 ]
}

t_noprog() {
	local real=$BUILD bin=$IOP_WORK/bin rc=0
	# Installed, the program would be found there (then this case cannot be made).
	local dir
	dir=$(grep -ao '/[[:alnum:]_./-]*/lib[[:alnum:]_./-]*/tsunagi' "$real/tsunagid" | head -1)
	[ -n "$dir" ] && [ -f "$dir/nat_fast.bpf.o" ] &&
		{ echo "    noprog: $dir/nat_fast.bpf.o is installed; not tried"; return 0; }
	mkdir -p "$bin"
	cp "$real/tsunagid" "$bin/" && ln -sf "$real/tsunagictl" "$bin/tsunagictl" || return 1
	stop_gw
	BUILD=$bin start_gw ""
	iop_wait 5 tsu_log_has "$NS_GW" "fast path off: no .*nat_fast.bpf.o" || rc=1
	[ "$(grep -c 'fast path' "$(tsu_dir "$NS_GW")/tsunagid.log")" = 1 ] || rc=1
	! tc_has_prog in0 && download && [ "$(tsu_counter "$NS_GW" nat-fast-added)" = 0 ] || rc=1
	stop_gw
	BUILD=$real
	return $rc
}

t_cleanup() {
	stop_gw
	start_gw ""
	t_loaded || return 1
	stop_gw
	! tc_has_prog in0 && ! tc_has_prog out0 &&
		! ip netns exec "$NS_GW" iptables -t raw -S 2>/dev/null | grep -q TSUNAGI
}

start_gw $'timeouts {\n\t\t\ttcp_syn = 4s\n\t\t\ttcp = 4s\n\t\t\ttcp_closed = 2s\n\t\t\tudp = 3s\n\t\t}'
for s in $SCEN; do
	if "t_$s"; then RES[$s]=ok; else RES[$s]=FAIL; fi
	[ "$s" = udp ] && tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
done
xt_check_sanitizers

bad=""
for s in $SCEN; do
	printf '    %-10s %s\n' "$s" "${RES[$s]}"
	[ "${RES[$s]}" = ok ] || bad="$bad $s"
done
if [ -n "$bad" ]; then
	for f in list-dl list-short list-udp; do
		[ -f "$IOP_WORK/$f.out" ] && sed "s/^/    $f| /" "$IOP_WORK/$f.out"
	done
	[ -f "$IOP_WORK/counters.out" ] && grep -E 'nat-(fast|queued|flows)' "$IOP_WORK/counters.out" | sed 's/^/    /'
	iop_fail "fast path:$bad"
fi
iop_pass
