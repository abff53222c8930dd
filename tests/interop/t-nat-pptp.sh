#!/bin/bash
# PPTP through PAT end to end (tests/interop/lib-nat.sh's topology): l1 and l2 on the
# LAN are PPTP clients (PNS) of one server (PAC) on srv, outside. These kernels have no
# PPP, so both ends are tests/interop/pptp_peer.py: the control messages over real TCP,
# the data as enhanced GRE (version 1) over raw sockets, echoed by the server. Both
# clients use call ID 1, as every client starts somewhere; the server sees both
# behind one public address. The same steps run through tsunagid's NAT (gw has no
# kernel NAT) and through the kernel's (nft masquerade plus the pptp conntrack helper
# attached by an explicit ct helper rule), printed side by side:
#   control    both clients open a control connection and call with call ID 1; each
#              sees its own call ID 1 as the Peer's Call ID in the reply
#   gre-l1     GRE of l1's call both ways (the echo comes back with key 1)
#   gre-l2     GRE of l2's call both ways, though its call ID is l1's too
#   icmp       the server answers a GRE packet of l2's call, then of l1's, with an
#              ICMP error (fragmentation needed): each reaches its own client quoting
#              what that client sent (its address, the server's call ID), every
#              checksum right; (tsunagid) counted in nat-icmp-errors
#   two-calls  l1 opens a second call (call ID 2) in the same control connection;
#              GRE of both of its calls both ways
#   clear      l1 clears call 1 (Call-Clear-Request, Call-Disconnect-Notify): its call
#              2 still works; (tsunagid) --list-nat shows 2 GRE translations, not 3
#   close      l2 closes its control connection: (tsunagid) its GRE translation
#              goes with it once the closed connection times out (2 s here); l1's
#              call 2 still works; after l1 closes too, no GRE translation is left
#   log        (tsunagid) the log has "Built outbound GRE connection" and
#              "Teardown GRE connection ... PPTP Call-Clear-Request" lines
#   version    l1 opens a control connection of protocol version 2 and calls: passed
#              untranslated (the server sees call ID 1), and (tsunagid) logged
# PASS when every step works through tsunagid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-pptp
iop_require_tsunagid
for c in iptables:iptables nft:nftables python3:python3; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done

PEER=$(cd "$(dirname "$0")" && pwd)/pptp_peer.py
SCEN="control gre-l1 gre-l2 icmp two-calls clear close log version"
declare -A RES=()

server_start() {
	ip netns exec "$NS_SRV" python3 "$PEER" server $NT_SRV >"$IOP_WORK/server-$MODE.log" 2>&1 &
	iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -ltn | grep -q '$NT_SRV:1723'" ||
		iop_fail "PPTP server not up: $(tail -2 "$IOP_WORK/server-$MODE.log")"
}

# client_start NAME NS: a client driven through two FIFOs (fd IN_NAME, OUT_NAME).
client_start() {
	local name=$1 ns=$2 w=$IOP_WORK/$1-$MODE
	mkfifo "$w.in" "$w.out"
	ip netns exec "$ns" timeout 120 python3 "$PEER" client $NT_SRV <"$w.in" >"$w.out" \
		2>"$w.err" &
	local fi fo
	exec {fi}>"$w.in"
	exec {fo}<"$w.out"
	printf -v "IN_$name" '%s' "$fi"
	printf -v "OUT_$name" '%s' "$fo"
}

client_stop() { eval "exec {IN_$1}>&- {OUT_$1}<&-"; }

# c NAME COMMAND...: one command to a client; true when it answers "ok".
c() {
	local name=$1; shift
	local fi=IN_$name fo=OUT_$name line
	echo "$*" >&"${!fi}"
	read -t 10 -r line <&"${!fo}" || line="fail: no answer"
	echo "$MODE $name $*: $line" >>"$IOP_WORK/steps.log"
	[[ $line == ok* ]]
}

# gre_xlates N: tsunagid lists N GRE translations (the kernel: not checked).
gre_xlates() {
	[ "$MODE" = tsunagi ] || return 0
	local n
	n=$(tsu_ctl "$NS_GW" --list-nat 2>/dev/null | tee "$IOP_WORK/list-nat.out" | grep -c GRE)
	[ "$n" = "$1" ]
}

t_control() { c l1 open && c l2 open && c l1 call 1 && c l2 call 1; }
t_gre_l1() { c l1 gre 1 && c l1 gre 1; }
t_gre_l2() { c l2 gre 1 && c l2 gre 1 && c l1 gre 1; }
t_icmp() {
	c l2 icmp 1 && c l1 icmp 1 && c l1 gre 1 || return 1
	[ "$MODE" = tsunagi ] || return 0
	[ "$(tsu_counter "$NS_GW" nat-icmp-errors)" -ge 2 ]
}
t_two_calls() { c l1 call 2 && c l1 gre 2 && c l1 gre 1 && c l2 gre 1 && gre_xlates 3; }
t_clear() { c l1 clear 1 && c l1 gre 2 && c l2 gre 1 && iop_wait 3 gre_xlates 2; }
t_close() {
	c l2 close || return 1
	iop_wait 8 gre_xlates 1 || return 1
	c l1 gre 2 && c l1 close && iop_wait 8 gre_xlates 0
}
t_log() {
	[ "$MODE" = tsunagi ] || return 2
	tsu_log_has "$NS_GW" "Built outbound GRE connection [0-9]+ from inside:$NT_L1/1 " &&
		tsu_log_has "$NS_GW" "Teardown GRE connection [0-9]+ from inside:$NT_L1/1 .* PPTP Call-Clear-Request"
}

t_version() {
	c l1 open 0x0200 && c l1 call 1 || return 1
	grep -q "call 10[0-9] from .* peer call id 1$" "$IOP_WORK/server-$MODE.log" || return 1
	[ "$MODE" = tsunagi ] || return 0
	iop_wait 3 tsu_log_has "$NS_GW" "pptp inspection: TCP connection [0-9]+ for outside:$NT_SRV/1723 to inside:$NT_L1/[0-9]+: PPTP version is not 1"
}

setup_tsunagi() {
	local conf
	conf="$(tsu_dir "$NS_GW")/tsunagi.conf"
	nat_tsu_conf "$NS_GW" in0 out0 $NT_LAN
	# A closed control connection ends 2 s after its last FIN, not 10.
	sed -i 's/^\(\t\toutside = out0\)$/\1\n\t\ttimeouts {\n\t\t\ttcp_closed = 2s\n\t\t}/' "$conf"
	grep -q 'tcp_closed = 2s' "$conf" || iop_fail "could not set tcp_closed in $conf"
	TSU_ARGS=(--nat-queue 3 --log nat=2)
	tsu_start "$NS_GW"
	TSU_ARGS=()
	iop_wait 5 ip netns exec "$NS_GW" iptables -t raw -S TSUNAGI-NAT ||
		iop_fail "tsunagid installed no NFQUEUE rules"
	ip netns exec "$NS_GW" nft list ruleset 2>/dev/null | grep -q 'type nat' && iop_fail "gw has kernel NAT rules"
	ip -n "$NS_R1" route get $NT_L1 >/dev/null 2>&1 && iop_fail "r1 has a route to the LAN"
	return 0
}

# The kernel: masquerade, and the pptp helper (never attached by itself since Linux
# 6.0) on TCP 1723 by an explicit rule. KERNEL_HELPER says whether it took.
setup_kernel() {
	nat_kernel_rules || iop_fail "nft NAT rules failed"
	KERNEL_HELPER=yes
	ip netns exec "$NS_GW" nft -f - <<-'EOF' 2>"$IOP_WORK/helper.err" || KERNEL_HELPER="no ($(head -1 "$IOP_WORK/helper.err"))"
	table ip pptp {
		ct helper pptp-1723 {
			type "pptp" protocol tcp
		}
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			tcp dport 1723 ct helper set "pptp-1723"
		}
	}
	EOF
}

for MODE in tsunagi kernel; do
	nat_topo
	server_start
	"setup_$MODE"
	client_start l1 "$NS_L1"
	client_start l2 "$NS_L2"
	for s in $SCEN; do
		"t_${s//-/_}"
		case $? in
		0) RES[$MODE,$s]=ok ;;
		2) RES[$MODE,$s]=- ;;
		*) RES[$MODE,$s]=FAIL ;;
		esac
	done
	client_stop l1
	client_stop l2
	if [ "$MODE" = tsunagi ]; then
		tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
		cp "$(tsu_dir "$NS_GW")/tsunagid.log" "$IOP_WORK/tsunagid.log"
		xt_check_sanitizers
	fi
	[ "${KEEP_TOPO:-0}" = 1 ] || topo_destroy
done

echo "    kernel: nft masquerade + pptp conntrack helper: ${KERNEL_HELPER:-?}"
printf '    %-10s %-8s %-8s\n' step tsunagi kernel
bad=""
for s in $SCEN; do
	printf '    %-10s %-8s %-8s\n' "$s" "${RES[tsunagi,$s]}" "${RES[kernel,$s]}"
	[ "${RES[tsunagi,$s]}" = FAIL ] && bad="$bad $s"
done
# Why the kernel failed, in its clients' words.
grep '^kernel .*: fail' "$IOP_WORK/steps.log" 2>/dev/null | sed 's/^kernel /    kernel| /'
if [ -n "$bad" ]; then
	sed 's/^/    | /' "$IOP_WORK/steps.log"
	grep -i pptp "$IOP_WORK/counters.out" | grep -v ': 0$' | sed 's/^/    /'
	iop_fail "through tsunagid's NAT:$bad"
fi
iop_pass
