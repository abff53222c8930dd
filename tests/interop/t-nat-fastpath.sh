#!/bin/bash
# The NAT fast path (daemon/nat_fast.c, daemon/nat_fast.bpf.c) in lib-nat.sh's
# topology, through tsunagid's PAT alone (gw has no kernel NAT rule):
#   loaded    tsunagid says so and its tc program is on in0 and out0
#   download  l1 fetches 32 MB from srv (curl); SHA-256 equal at both ends; the
#             flow's packets were not queued (nat-queued grows by a few dozen, not
#             by the ~25,000 segments) and --list-nat showed it in the fast path
#   upload    l1 sends 32 MB to srv (tcp_transfer_whole): the same
#   short     50 short connections (curl of a small page): at most 3 packets each
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
#   syn       50 more plain connections: the program makes their flows from the
#             SYN (nat-fast-created +50) and no packet of theirs is queued (nat-queued
#             grows by less than 10); each was built and torn down in the log as
#             if queued; a connection held open is in --list-nat (ESTABLISHED, fast)
#   engine    a connection to port 21 (FTP's engine) is queued (nat-fast-punt-port,
#             nat-queued grow) and works
#   many      300 connections (bounded: 60 s), all complete, at most a few queued
#   collide   l1 and l2 connect to one server from the same port 45000: both flows
#             made by the program, on two public ports (the first keeps 45000)
#   flush     20 connections held open, then --flush-nat: no TCP flow listed, the
#             map entries gone with them (the held connections get no more echo)
#   stale     an entry made as the program makes them, of a flow the core never
#             heard of (written into the map with bpf(2) from python), goes at the
#             next sweep (tcp = 4s): the map loses it and the log says so
#   exempt    (new rule: exempt 10.9.0.0/24 <-> peer) l1's connection to peer is not
#             translated (peer sees 10.9.0.10) and was queued (nat-fast-punt-dst)
#   reload    lan's public address changed to 203.0.113.9 and SIGHUP: new flows are
#             made by the program with it (srv sees 203.0.113.9)
#   killed    a UDP flow in the fast path, then SIGKILL: the program went with
#             tsunagid (tcx link): l1's next datagrams leave untranslated (the queue's
#             bypass), none with the public address
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
SCEN=${SCEN:-"loaded download upload short active udp idle syn engine many collide flush stale exempt reload killed off noprog cleanup"}
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

# An echo server on srv (and on peer for exempt): each connection gets "from ADDR\n"
# (its client's address as seen), then its bytes back until it closes.
echo_server() {
	ip netns exec "$1" python3 -c '
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(512)
def h(c, a):
    try:
        c.sendall(b"from %s\n" % a[0].encode())
        while True:
            d = c.recv(100)
            if not d: break
            c.sendall(d)
    except OSError: pass
    c.close()
while True:
    c, a = s.accept(); threading.Thread(target=h, args=(c, a), daemon=True).start()
' "$2" "$3" >>"$IOP_WORK/echo.log" 2>&1 &
	iop_wait 5 ip netns exec "$1" sh -c "ss -ltn | grep -q '$2:$3'"
}

# conns NS ADDR PORT N [HOLD]: N connections from NS (4 at a time), each reads the
# greeting and closes (HOLD=1: all held open, then "y" sent on each after a flush
# by the caller: prints how many got it back). Prints "ok N from ADDR...".
conns() {
	ip netns exec "$1" timeout 60 python3 -c '
import socket, sys, time, os
from concurrent.futures import ThreadPoolExecutor
addr, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
def one(i):
    c = socket.create_connection((addr, port), timeout=5)
    g = c.makefile().readline().split()
    if not hold: c.close(); return g[1], None
    return g[1], c
with ThreadPoolExecutor(4) as ex:
    res = list(ex.map(one, range(n)))
print("ok", len(res), " ".join(sorted(set(r[0] for r in res))), flush=True)
if hold:
    open(sys.argv[5], "w").write("held\n")
    while not os.path.exists(sys.argv[5] + ".go"): time.sleep(0.1)
    for _, c in res:
        c.send(b"y"); c.setblocking(False)
    time.sleep(1.5)
    got = 0
    for _, c in res:
        try: got += c.recv(10) == b"y"
        except OSError: pass
    print("echoed", got, flush=True)
' "$2" "$3" "$4" "${5:-0}" "$IOP_WORK/hold"
}

t_syn() {
	local q c0 c1 b0 b1 log
	iop_wait 15 eval '! tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -q "^TCP "' || return 1
	log=$(tsu_dir "$NS_GW")/tsunagid.log
	c0=$(tsu_counter "$NS_GW" nat-fast-created)
	b0=$(grep -c 'Built outbound TCP.*inside:10.9.0.10/' "$log")
	q=$(queued_during fifty) || return 1
	c1=$(tsu_counter "$NS_GW" nat-fast-created)
	b1=$(grep -c 'Built outbound TCP.*inside:10.9.0.10/' "$log")
	echo "    syn: 50 connections, $q packets queued, nat-fast-created +$((c1 - c0)), built +$((b1 - b0))"
	[ "$q" -lt 10 ] && [ $((c1 - c0)) -ge 50 ] && [ $((b1 - b0)) -ge 50 ] || return 1
	# One held open (a slow download): listed, established, in the fast path.
	( ip netns exec "$NS_L1" curl -s -m 3 --limit-rate 200K http://$NT_SRV:8080/blob >/dev/null ) &
	local dl=$!
	sleep 1.5
	tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-syn.out" 2>&1
	wait $dl
	grep -A1 '^TCP .*ESTABLISHED' "$IOP_WORK/list-syn.out" | grep -q "fast path"
}

t_engine() {
	local q p0 p1 out
	echo_server "$NS_SRV" $NT_SRV 21 || return 1
	p0=$(tsu_counter "$NS_GW" nat-fast-punt-port)
	q=$(queued_during conns "$NS_L1" $NT_SRV 21 1) || { cat "$IOP_WORK/cmd.out"; return 1; }
	out=$(cat "$IOP_WORK/cmd.out")
	p1=$(tsu_counter "$NS_GW" nat-fast-punt-port)
	echo "    engine: port 21: $out; $q packets queued, nat-fast-punt-port +$((p1 - p0))"
	[ "$out" = "ok 1 $NT_PUB" ] && [ "$q" -ge 2 ] && [ $((p1 - p0)) -ge 1 ]
}

t_many() {
	local q c0 c1 out
	echo_server "$NS_SRV" $NT_SRV 9000 || return 1
	c0=$(tsu_counter "$NS_GW" nat-fast-created)
	q=$(queued_during conns "$NS_L1" $NT_SRV 9000 300) || { cat "$IOP_WORK/cmd.out"; return 1; }
	out=$(cat "$IOP_WORK/cmd.out")
	c1=$(tsu_counter "$NS_GW" nat-fast-created)
	echo "    many: $out; $q packets queued, nat-fast-created +$((c1 - c0))"
	[ "$out" = "ok 300 $NT_PUB" ] && [ "$q" -lt 30 ] && [ $((c1 - c0)) -ge 290 ]
}

# from_port NS: connects to srv:9000 from port 45000; prints the greeting's address.
from_port() {
	ip netns exec "$1" timeout 10 python3 -c '
import socket, sys
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("", 45000)); c.settimeout(5); c.connect((sys.argv[1], 9000))
print(c.makefile().readline().split()[1]); c.close()' $NT_SRV
}

t_collide() {
	local c0 c1 a b
	ip netns exec "$NS_SRV" ss -ltn | grep -q "$NT_SRV:9000" || echo_server "$NS_SRV" $NT_SRV 9000 ||
		return 1
	c0=$(tsu_counter "$NS_GW" nat-fast-created)
	a=$(from_port "$NS_L1") && b=$(from_port "$NS_L2") || return 1
	c1=$(tsu_counter "$NS_GW" nat-fast-created)
	tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-collide.out" 2>&1
	echo "    collide: $a and $b; nat-fast-created +$((c1 - c0));" \
		"public ports $(grep ':45000 ' "$IOP_WORK/list-collide.out" | awk '{print $3}' | tr '\n' ' ')"
	[ "$a" = $NT_PUB ] && [ "$b" = $NT_PUB ] && [ $((c1 - c0)) = 2 ] &&
		[ "$(grep ':45000 ' "$IOP_WORK/list-collide.out" | awk '{print $3}' | sort -u | wc -l)" = 2 ] &&
		grep -q "^TCP .*10.9.0.10:45000 *$NT_PUB:45000 " "$IOP_WORK/list-collide.out"
}

t_flush() {
	local r0 r1 pid
	rm -f "$IOP_WORK/hold" "$IOP_WORK/hold.go"
	conns "$NS_L1" $NT_SRV 9000 20 1 >"$IOP_WORK/flush.out" 2>&1 &
	pid=$!
	iop_wait 20 test -f "$IOP_WORK/hold" || { kill $pid; return 1; }
	r0=$(tsu_counter "$NS_GW" nat-fast-removed)
	tsu_ctl "$NS_GW" --flush-nat >/dev/null 2>&1
	r1=$(tsu_counter "$NS_GW" nat-fast-removed)
	touch "$IOP_WORK/hold.go"
	wait $pid
	echo "    flush: $(tr '\n' ' ' <"$IOP_WORK/flush.out"); nat-fast-removed +$((r1 - r0))"
	[ $((r1 - r0)) -ge 20 ] && grep -qx "echoed 0" "$IOP_WORK/flush.out" &&
		! tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -q ":9000 "
}

# fast_map PID CMD: bpf(2) on tsunagid's nat_fast map (the one hash map it holds):
# CMD put writes a stale entry of the program's (NAT_FAST_NEW, last used at boot)
# for 10.9.0.99:40404 -> srv:80; CMD has prints whether it is there.
fast_map() {
	python3 - "$@" <<'PY'
import ctypes, os, struct, sys, socket
pid, cmd = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
def bpf(c, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(321, c, buf, 128)
    return r, ctypes.get_errno()
mid = None
for fd in os.listdir("/proc/%s/fdinfo" % pid):
    try:
        info = dict(l.split(":", 1) for l in open("/proc/%s/fdinfo/%s" % (pid, fd)) if ":" in l)
    except OSError:
        continue
    if info.get("map_type", "").strip() == "1" and info.get("key_size", "").strip() == "16":
        mid = int(info["map_id"])
if mid is None:
    sys.exit("no map")
mfd, err = bpf(14, struct.pack("=I", mid))
if mfd < 0:
    sys.exit("map fd: errno %d" % err)
a = lambda s: socket.inet_aton(s)
key = a("10.9.0.99") + a(sys.argv[3]) + struct.pack("!HH", 40404, 80) + bytes([6, 0, 0, 0])
val = a(sys.argv[4]) + a(sys.argv[3]) + struct.pack("!HH", 40404, 80) + struct.pack("=IIQQQII", 2, 0, 1, 1, 60, 0, 0)
kb, vb = ctypes.create_string_buffer(key), ctypes.create_string_buffer(len(val))
if cmd == "put":
    vb.raw = val
    r, err = bpf(2, struct.pack("=IIQQQ", mfd, 0, ctypes.addressof(kb), ctypes.addressof(vb), 0))
    print("put" if r == 0 else "errno %d" % err)
else:
    r, err = bpf(1, struct.pack("=IIQQQ", mfd, 0, ctypes.addressof(kb), ctypes.addressof(vb), 0))
    print("there" if r == 0 else "gone")
PY
}

t_stale() {
	local pid=${IOP_TSU_PID[$NS_GW]} got
	got=$(fast_map "$pid" put $NT_SRV $NT_PUB) || { echo "    stale: $got"; return 1; }
	[ "$got" = put ] && [ "$(fast_map "$pid" has $NT_SRV $NT_PUB)" = there ] || return 1
	# tcp = 4s: swept within 4 s of the timer's next look.
	iop_wait 12 eval '[ "$(fast_map $pid has $NT_SRV $NT_PUB)" = gone ]' || return 1
	echo "    stale: $(grep -o 'fast path: [0-9]* entries of flows the core did not know removed' \
		"$(tsu_dir "$NS_GW")/tsunagid.log" | tail -1)"
	tsu_log_has "$NS_GW" "fast path: 1 entries of flows the core did not know removed"
}

t_exempt() {
	local d0 d1 out
	stop_gw
	ip -n "$NS_PEER" route replace $NT_LAN via $NT_PUB || return 1
	NAT_EXTRA="" nat_tsu_start "$NS_GW" in0 out0 $NT_LAN \
		$'vpn {\n\t\t\t\ttype = exempt\n\t\t\t\tprivate = '$NT_LAN$'\n\t\t\t\tremote = '$NT_PEER$'/32\n\t\t\t}' ||
		return 1
	iop_wait 5 tsu_log_has "$NS_GW" "fast path on" || return 1
	echo_server "$NS_PEER" $NT_PEER 9000 || return 1
	d0=$(tsu_counter "$NS_GW" nat-fast-punt-dst)
	out=$(conns "$NS_L1" $NT_PEER 9000 3) || return 1
	d1=$(tsu_counter "$NS_GW" nat-fast-punt-dst)
	echo "    exempt: $out; nat-fast-punt-dst +$((d1 - d0))"
	ip -n "$NS_PEER" route del $NT_LAN via $NT_PUB
	[ "$out" = "ok 3 $NT_L1" ] && [ $((d1 - d0)) -ge 3 ]
}

t_reload() {
	local c0 c1 out1 out2 conf
	conf=$(tsu_dir "$NS_GW")/tsunagi.conf
	ip -n "$NS_GW" addr add 203.0.113.9/24 dev out0 || return 1
	out1=$(conns "$NS_L1" $NT_SRV 9000 5) || return 1
	sed -i 's/public = out0/public = 203.0.113.9/' "$conf"
	kill -HUP "${IOP_TSU_PID[$NS_GW]}"
	iop_wait 5 tsu_log_has "$NS_GW" "NAT rules reloaded" || return 1
	c0=$(tsu_counter "$NS_GW" nat-fast-created)
	out2=$(conns "$NS_L1" $NT_SRV 9000 5) || return 1
	c1=$(tsu_counter "$NS_GW" nat-fast-created)
	echo "    reload: before: $out1; after: $out2; nat-fast-created +$((c1 - c0))"
	[ "$out1" = "ok 5 $NT_PUB" ] && [ "$out2" = "ok 5 203.0.113.9" ] && [ $((c1 - c0)) -ge 5 ]
}

# send_udp N: N datagrams l1:41001 -> srv:9997.
send_udp() {
	ip netns exec "$NS_L1" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 41001))
for i in range(int(sys.argv[2])):
    s.sendto(b"k", (sys.argv[1], 9997)); time.sleep(0.05)' $NT_SRV "$1"
}

# pkts_from SRC: datagrams to srv:9997 that left gw with source SRC.
pkts_from() {
	ip netns exec "$NS_GW" iptables -t mangle -nvxL POSTROUTING | awk -v s="$1" \
		'$0 ~ /dpt:9997/ && $8 == s { print $1 }'
}

# fwd_is TEXT: tsunagid's last "NAT forwarding:" line has TEXT.
fwd_is() {
	grep -F "NAT forwarding:" "$(tsu_dir "$NS_GW")/tsunagid.log" | tail -1 | grep -qF "$1"
}

t_killed() {
	local pid=${IOP_TSU_PID[$NS_GW]} a b c src
	for src in $NT_PUB 203.0.113.9 $NT_L1; do
		ip netns exec "$NS_GW" iptables -t mangle -A POSTROUTING -o out0 -s $src \
			-p udp --dport 9997 -j RETURN || return 1
	done
	# Rules the program's forwarding would skip: the kernel forwards again.
	iop_wait 5 fwd_is "the kernel forwards every packet" || return 1
	send_udp 6
	a=$(( $(pkts_from $NT_PUB) + $(pkts_from 203.0.113.9) ))
	# In the fast path by now (its first datagram was queued).
	tsu_ctl "$NS_GW" --list-nat 2>/dev/null | grep -A1 ":41001 " | grep -q "fast path" || return 1
	kill -KILL "$pid"
	iop_wait 10 eval '! kill -0 $pid' || return 1
	send_udp 3
	b=$(( $(pkts_from $NT_PUB) + $(pkts_from 203.0.113.9) ))
	c=$(pkts_from $NT_L1)
	echo "    killed: translated before $a, after the kill $((b - a)); untranslated $c;" \
		"tc filters: $(ip netns exec "$NS_GW" tc filter show dev in0 ingress | grep -c nat_fast)"
	ip netns exec "$NS_GW" iptables -t mangle -F POSTROUTING
	[ "$a" = 6 ] && [ "$b" = 6 ] && [ "$c" = 3 ] || return 1
	! tc_has_prog in0 && ! tc_has_prog out0 || { echo "    killed: a program is still attached"; return 1; }
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
		{ CASE_SKIP="$dir/nat_fast.bpf.o is installed, so it cannot be missing"; return 0; }
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
	CASE_SKIP=""	# a case that cannot be made here says why (never counted ok)
	if ! "t_$s"; then RES[$s]=FAIL; elif [ -n "$CASE_SKIP" ]; then RES[$s]="skipped: $CASE_SKIP"
	else RES[$s]=ok; fi
	[ "$s" = udp ] && tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
done
xt_check_sanitizers

xt_cases_report
if [ -n "$BAD" ]; then
	for f in list-dl list-short list-udp; do
		[ -f "$IOP_WORK/$f.out" ] && sed "s/^/    $f| /" "$IOP_WORK/$f.out"
	done
	[ -f "$IOP_WORK/counters.out" ] && grep -E 'nat-(fast|queued|flows)' "$IOP_WORK/counters.out" | sed 's/^/    /'
	iop_fail "fast path:$BAD"
fi
iop_pass
