#!/bin/bash
# SIP through NAT end to end (tests/interop/lib-nat.sh's topology): sipp (sip-tester)
# calls from the LAN (UAC in l1, and in l2) a UAS on srv, which has no route to the
# LAN. The UAS (tests/interop/conf/sip-uas-media.xml) plays RTP to the address and
# port of the caller's SDP once the call is up: that only arrives through the
# pinhole the caller's rewritten SDP opened; the caller (sipp -rtp_echo) echoes it
# back. The same scenarios run through tsunagid's NAT (gw has no kernel NAT rule)
# and through the Linux kernel's (nft masquerade plus the sip conntrack helper,
# attached by an explicit ct helper rule), printed side by side:
#   udp       one call over UDP: INVITE/180/200/ACK, media both ways, BYE/200 (sipp
#             says the call succeeded on both sides; l1 received RTP on its media
#             port, srv the echo from the public address)
#   tcp       the same over TCP (sipp -t t1)
#   two       l1 and l2 call at once, both from port 5060 with media on 6000: two
#             calls, two public signalling ports, two public media ports
#   list-nat  (tsunagid only) during a call --list-nat shows the RTP flow (owned by
#             the sip engine, packets both ways); after the BYE it is gone
# PASS when every scenario works through tsunagid. INSPECT_OFF=1 turns its sip engine
# off (inspect { sip { enabled = no } }), to see what it changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-sip
iop_require_tsunagid
for c in sipp:sip-tester iptables:iptables nft:nftables; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done
PCAP=/usr/share/sip-tester/g711a.pcap
[ -r $PCAP ] || iop_fail "$PCAP missing (package sip-tester)"
UAS_XML=$(cd "$(dirname "$0")" && pwd)/conf/sip-uas-media.xml
CALL_MS=${CALL_MS:-5000}

SCEN=${SCEN:-udp tcp two list-nat}
declare -A RES=()

# uas NAME TRANSPORT: a UAS on srv for one call per caller; NAME its log's name.
uas() {
	local calls=${3:-1}
	( cd "$IOP_WORK" && exec ip netns exec "$NS_SRV" timeout 60 sipp -sf "$UAS_XML" \
		-i $NT_SRV -p 5060 -mi $NT_SRV -mp 6000 -t "$2" -m "$calls" -nostdin \
		-trace_err -error_file "$IOP_WORK/$1-uas.err" ) >"$IOP_WORK/$1-uas.out" 2>&1 &
	UAS_PID=$!
	iop_wait 5 eval "ip netns exec $NS_SRV ss -lnut | grep -q '$NT_SRV:5060'"
}

# uac NS ADDR NAME TRANSPORT: one call from ADDR:5060, media (echo) on ADDR:6000.
uac() {
	( cd "$IOP_WORK" && exec ip netns exec "$1" timeout 60 sipp -sn uac -rtp_echo \
		-i "$2" -p 5060 -mi "$2" -mp 6000 -t "$4" -m 1 -d $CALL_MS -nostdin \
		-trace_err -error_file "$IOP_WORK/$3-uac.err" $NT_SRV:5060 ) \
		>"$IOP_WORK/$3-uac.out" 2>&1
}

# Packet counters: RTP arriving at a caller's media port, echoes arriving at srv.
media_counters() {
	local h
	for h in "$NS_L1" "$NS_L2"; do
		ip netns exec "$h" iptables -F INPUT
		ip netns exec "$h" iptables -A INPUT -p udp --dport 6000
	done
	ip netns exec "$NS_SRV" iptables -F INPUT
	ip netns exec "$NS_SRV" iptables -A INPUT -p udp -s $NT_PUB ! --dport 5060
}
pkts() { ip netns exec "$1" iptables -nvxL INPUT | awk 'NR > 2 { n += $1 } END { print n + 0 }'; }

# call NAME TRANSPORT [NS ADDR]...: calls from each LAN host at once; every call
# succeeds on both sides and media went both ways (each caller got RTP, srv echoes).
call() {
	local name=$1 tr=$2 ok=0 pids=() i=0
	shift 2
	media_counters
	uas "$name" "$tr" $(($# / 2))
	while [ $# -gt 0 ]; do
		uac "$1" "$2" "$name-$i" "$tr" &
		pids+=($!)
		shift 2
		i=$((i + 1))
	done
	for p in "${pids[@]}"; do wait "$p" || ok=1; done
	wait "$UAS_PID" || ok=1
	local got_l1 got_l2 got_srv
	got_l1=$(pkts "$NS_L1") got_l2=$(pkts "$NS_L2") got_srv=$(pkts "$NS_SRV")
	echo "$MODE $name: sipp rc ok=$ok, RTP at l1 $got_l1, at l2 $got_l2, echoes at srv $got_srv" \
		>>"$IOP_WORK/media.out"
	[ $ok = 0 ] && [ "$got_l1" -gt 0 ] && [ "$got_srv" -gt 0 ] &&
		{ [ $i -lt 2 ] || [ "$got_l2" -gt 0 ]; }
}

t_udp() { call udp u1 "$NS_L1" $NT_L1; }
t_tcp() { call tcp t1 "$NS_L1" $NT_L1; }
t_two() { call two u1 "$NS_L1" $NT_L1 "$NS_L2" $NT_L2; }

# During a call: an RTP flow L1:6000 owned by sip with packets both ways; after: none.
t_list_nat() {
	[ "$MODE" = tsunagi ] || return 2
	media_counters
	uas list u1 1
	uac "$NS_L1" $NT_L1 list u1 &
	local pid=$! during after
	sleep $((CALL_MS / 2000 + 1))
	tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-nat-during.out" 2>&1
	wait $pid
	wait "$UAS_PID"
	tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-nat-after.out" 2>&1
	during=$(grep -E "$NT_L1[:/]6000[^0-9]" "$IOP_WORK/list-nat-during.out")
	after=$(grep -E "$NT_L1[:/]6000[^0-9]" "$IOP_WORK/list-nat-after.out")
	grep -qi sip <<<"$during" && [ -z "$after" ]
}

setup_tsunagi() {
	if [ "${INSPECT_OFF:-0}" = 1 ]; then
		nat_tsu_conf "$NS_GW" in0 out0 $NT_LAN
		sed -i 's/^\tnat {$/\tnat {\n\t\tinspect {\n\t\t\tsip {\n\t\t\t\tenabled = no\n\t\t\t}\n\t\t}/' \
			"$(tsu_dir "$NS_GW")/tsunagi.conf"
		nat_tsu_conf() { :; }	# keep the file as it is for nat_tsu_start
	fi
	nat_tsu_start "$NS_GW" in0 out0 $NT_LAN || iop_fail "tsunagid did not start its NAT"
	ip netns exec "$NS_GW" nft list ruleset 2>/dev/null | grep -q 'type nat' && iop_fail "gw has kernel NAT rules"
	ip -n "$NS_R1" route get $NT_L1 >/dev/null 2>&1 && iop_fail "r1 has a route to the LAN"
	return 0
}

# The kernel: masquerade, and the sip helper attached explicitly (Linux >= 6.0 never
# attaches helpers by itself). Without the helper the calls are still tried.
KERNEL_HELPER=no
setup_kernel() {
	nat_kernel_rules || iop_fail "nft NAT rules failed"
	if ip netns exec "$NS_GW" nft -f - <<-EOF 2>"$IOP_WORK/helper.err"; then
	table ip siphelper {
		ct helper sip-udp { type "sip" protocol udp; }
		ct helper sip-tcp { type "sip" protocol tcp; }
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			udp dport 5060 ct helper set "sip-udp"
			tcp dport 5060 ct helper set "sip-tcp"
		}
	}
	EOF
		KERNEL_HELPER=yes
	fi
}

for MODE in ${MODES:-tsunagi kernel}; do
	nat_topo
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
		tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
		kill -TERM "${IOP_TSU_PID[$NS_GW]}"
		iop_wait 10 eval '! kill -0 "${IOP_TSU_PID[$NS_GW]}"'
		xt_check_sanitizers
	fi
	[ "${KEEP_TOPO:-0}" = 1 ] || topo_destroy
done

echo "    kernel: sip conntrack helper attached: $KERNEL_HELPER $(head -c 200 "$IOP_WORK/helper.err" 2>/dev/null)"
printf '    %-10s %-8s %-8s\n' scenario tsunagi kernel
bad=""
for s in $SCEN; do
	printf '    %-10s %-8s %-8s\n' "$s" "${RES[tsunagi,$s]}" "${RES[kernel,$s]}"
	[ "${RES[tsunagi,$s]}" = FAIL ] && bad="$bad $s"
done
sed 's/^/    /' "$IOP_WORK/media.out"
if [ -n "$bad" ]; then
	[ -f "$IOP_WORK/counters.out" ] && grep -v ': 0$' "$IOP_WORK/counters.out" | grep -i 'nat\|sip' | sed 's/^/    /'
	for f in "$IOP_WORK"/*uac.out "$IOP_WORK"/*uas.out "$IOP_WORK"/*.err "$IOP_WORK"/list-nat-*.out; do
		[ -s "$f" ] && { echo "    --- ${f##*/}"; tail -5 "$f" | sed 's/^/    /'; }
	done
	iop_fail "through tsunagid's NAT:$bad"
fi
iop_pass
