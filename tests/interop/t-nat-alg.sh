#!/bin/bash
# NAT inspection engines end to end (lib-nat.sh's topology), through tsunagid's
# own NAT (gw has no kernel NAT rule: nothing works unless tsunagid translates
# and inspects) and through the Linux kernel's (nft masquerade and dnat, with
# explicit CT helper rules: Linux >= 6.0 never attaches helpers by itself),
# printed side by side:
#   ftp-active  l1's curl fetches a file from vsftpd on srv in active mode
#               (PORT): the server connects back through the pinhole; sha256 checked
#   ftp-passive l1's lftp fetches it in passive mode (PASV 227, no EPSV)
#   ftp-eprt    l1's curl in active mode with EPRT
#   ftp-server  srv's lftp fetches from vsftpd on the LAN server ls through the
#               forward of port 21, passive, 227 naming ls's inside address
#               (lftp told to trust it): the engine rewrites it to the public one
#   tftp        l1's tftp-hpa gets a file from srv's tftpd-hpa (answer from a new port)
#   dns         l1's dig asks srv's dnsmasq for a name whose A record is a static
#               mapping's public address: the answer holds the inside address
#               (DNS doctoring; the kernel has no such thing); another name's
#               record stays as it is
# PASS when every scenario works through tsunagid. INSPECT_OFF=1 turns tsunagid's
# engines off (inspect { X { enabled = no } }), to see what they change.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-alg
iop_require_tsunagid
for c in curl:curl lftp:lftp vsftpd:vsftpd tftp:tftp-hpa in.tftpd:tftpd-hpa dig:dnsutils \
	dnsmasq:dnsmasq nft:nftables iptables:iptables sha256sum:coreutils; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done

SCEN="ftp-active ftp-passive ftp-eprt ftp-server tftp dns"
DMZ_IN=10.9.0.77 DMZ_PUB=203.0.113.77	# a static mapping, for DNS doctoring
declare -A RES=()

DATA=$IOP_WORK/data
mkdir -p "$DATA/srv" "$DATA/ls" "$DATA/tftp" "$IOP_WORK/empty"
head -c 300000 /dev/urandom >"$DATA/srv/file.bin"
cp "$DATA/srv/file.bin" "$DATA/ls/file.bin"
cp "$DATA/srv/file.bin" "$DATA/tftp/file.bin"
chmod -R a+rX,go-w "$DATA"
SUM=$(sha256sum <"$DATA/srv/file.bin" | cut -d' ' -f1)

# vsftpd NS ADDR ROOT: anonymous, active (from port 20) and passive (50000-50100).
vsftpd_start() {
	local conf=$IOP_WORK/vsftpd-$2.conf
	cat >"$conf" <<-EOF
	listen=YES
	listen_ipv6=NO
	listen_address=$2
	background=NO
	anonymous_enable=YES
	local_enable=NO
	no_anon_password=YES
	anon_root=$3
	ftp_username=daemon
	secure_chroot_dir=$IOP_WORK/empty
	seccomp_sandbox=NO
	isolate=NO
	isolate_network=NO
	port_enable=YES
	connect_from_port_20=YES
	pasv_enable=YES
	pasv_min_port=50000
	pasv_max_port=50100
	xferlog_enable=NO
	EOF
	ip netns exec "$1" vsftpd "$conf" >"$IOP_WORK/vsftpd-$2.log" 2>&1 &
	iop_wait 5 ip netns exec "$1" sh -c "ss -ltn | grep -q '$2:21'" ||
		iop_fail "vsftpd on $2 not up: $(tail -2 "$IOP_WORK/vsftpd-$2.log")"
}

servers() {
	vsftpd_start "$NS_SRV" $NT_SRV "$DATA/srv"
	vsftpd_start "$NS_LS" $NT_LS "$DATA/ls"
	ip netns exec "$NS_SRV" in.tftpd -L -a $NT_SRV:69 -s "$DATA/tftp" -u root \
		>"$IOP_WORK/tftpd.log" 2>&1 &
	ip netns exec "$NS_SRV" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=$NT_SRV --bind-interfaces --pid-file= --user=root \
		--address=/dmz.example/$DMZ_PUB --address=/other.example/192.0.2.7 \
		>"$IOP_WORK/dnsmasq.log" 2>&1 &
	iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -lun | grep -q '$NT_SRV:53'" ||
		iop_fail "dnsmasq not up: $(tail -2 "$IOP_WORK/dnsmasq.log")"
	iop_wait 5 ip netns exec "$NS_SRV" sh -c "ss -lun | grep -q '$NT_SRV:69'" ||
		iop_fail "tftpd not up: $(tail -2 "$IOP_WORK/tftpd.log")"
}

# same FILE: its sha256 is the original's.
same() { [ -f "$1" ] && [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$SUM" ]; }

t_ftp_active() {
	local out=$IOP_WORK/active-$MODE.bin
	rm -f "$out"
	ip netns exec "$NS_L1" curl -s -m 20 --ftp-port - --disable-eprt -o "$out" \
		ftp://$NT_SRV/file.bin && same "$out"
}
t_ftp_eprt() {
	local out=$IOP_WORK/eprt-$MODE.bin
	rm -f "$out"
	ip netns exec "$NS_L1" curl -s -m 20 --ftp-port - -o "$out" ftp://$NT_SRV/file.bin &&
		same "$out"
}
# lftp_get NS HOST OUT: passive, PASV only, the 227's address believed as it is.
lftp_get() {
	(cd "$IOP_WORK" && ip netns exec "$1" timeout 30 lftp -e "set ftp:passive-mode on; \
set ftp:prefer-epsv no; set ftp:fix-pasv-address no; set ftp:ignore-pasv-address no; \
set net:max-retries 1; set net:timeout 10; get file.bin -o $3; quit" \
		-u anonymous, "$2") >>"$IOP_WORK/lftp.log" 2>&1
}
t_ftp_passive() {
	local out=$IOP_WORK/passive-$MODE.bin
	rm -f "$out"
	lftp_get "$NS_L1" $NT_SRV "$out" && same "$out"
}
t_ftp_server() {
	local out=$IOP_WORK/server-$MODE.bin
	rm -f "$out"
	lftp_get "$NS_SRV" $NT_PUB "$out" && same "$out"
}
t_tftp() {
	local out=$IOP_WORK/tftp-$MODE.bin
	rm -f "$out"
	(cd "$IOP_WORK" && ip netns exec "$NS_L1" timeout 20 tftp -m binary $NT_SRV \
		-c get file.bin "$out") >>"$IOP_WORK/tftp.log" 2>&1
	same "$out"
}
t_dns() {
	local a b
	a=$(ip netns exec "$NS_L1" dig +short +time=2 +tries=2 @$NT_SRV dmz.example A)
	b=$(ip netns exec "$NS_L1" dig +short +time=2 +tries=2 @$NT_SRV other.example A)
	echo "$MODE: dmz.example=$a other.example=$b" >>"$IOP_WORK/dns.log"
	[ "$b" = 192.0.2.7 ] || return 1
	[ "$a" = $DMZ_IN ] && return 0
	[ "$a" = $DMZ_PUB ] && return 3	# answered, not doctored
	return 1
}

setup_tsunagi() {
	nat_tsu_conf "$NS_GW" in0 out0 $NT_LAN \
		$'ftp {\n\t\t\t\ttype = forward\n\t\t\t\tproto = tcp\n\t\t\t\tpublic = out0\n\t\t\t\tpublic_port = 21\n\t\t\t\tprivate = '$NT_LS$'\n\t\t\t\tprivate_port = 21\n\t\t\t}' \
		$'dmz {\n\t\t\t\ttype = static\n\t\t\t\tprivate = '$DMZ_IN$'\n\t\t\t\tpublic = '$DMZ_PUB$'\n\t\t\t}'
	TSU_ARGS=(--log nat=${NAT_LOG:-2})
	# queue and firewall from the file (nat { queue = 3 }), not from flags.
	local off=""
	[ "${INSPECT_OFF:-0}" = 1 ] &&
		off='\n\t\tinspect {\n\t\t\tftp {\n\t\t\t\tenabled = no\n\t\t\t}\n\t\t\ttftp {\n\t\t\t\tenabled = no\n\t\t\t}\n\t\t\tdns {\n\t\t\t\tenabled = no\n\t\t\t}\n\t\t}'
	sed -i "s/^\tnat {\$/\tnat {\n\t\tqueue = 3\n\t\tfirewall = auto$off/" "$(tsu_dir "$NS_GW")/tsunagi.conf"
	tsu_start "$NS_GW"
	TSU_ARGS=()
	iop_wait 5 ip netns exec "$NS_GW" iptables -t raw -S TSUNAGI-NAT ||
		iop_fail "tsunagid installed no NFQUEUE rules"
	ip netns exec "$NS_GW" iptables -t raw -S | grep -Eq -- '--queue-(num 3|balance 3:)' ||
		iop_fail "nat { queue = 3 } not used"
	ip netns exec "$NS_GW" nft list ruleset 2>/dev/null | grep -q 'type nat' &&
		iop_fail "gw has kernel NAT rules"
	return 0
}

setup_kernel() {
	ip netns exec "$NS_GW" nft -f - <<-EOF || return 1
	table ip nat {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			ip daddr $NT_PUB tcp dport 21 dnat to $NT_LS:21
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "out0" masquerade
		}
	}
	table ip helpers {
		ct helper ftp-std { type "ftp" protocol tcp; }
		ct helper tftp-std { type "tftp" protocol udp; }
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			tcp dport 21 ct helper set "ftp-std"
			udp dport 69 ct helper set "tftp-std"
		}
	}
	EOF
}

for MODE in tsunagi kernel; do
	nat_topo
	servers
	if ! "setup_$MODE"; then
		for s in $SCEN; do RES[$MODE,$s]=setup; done
		topo_destroy
		continue
	fi
	for s in $SCEN; do
		"t_${s//-/_}"
		case $? in
		0) RES[$MODE,$s]=ok ;;
		3) RES[$MODE,$s]=no-doctor ;;
		*) RES[$MODE,$s]=FAIL ;;
		esac
	done
	if [ "$MODE" = tsunagi ]; then
		tsu_ctl "$NS_GW" --list-nat >"$IOP_WORK/list-nat.out" 2>&1
		tsu_ctl "$NS_GW" --counters >"$IOP_WORK/counters.out" 2>&1
		grep -q ' ftp ' "$IOP_WORK/list-nat.out" || RES[tsunagi,list-nat]=FAIL
		grep -q 'nat-ftp-pinhole-hits: [1-9]' "$IOP_WORK/counters.out" &&
			grep -q 'nat-dns-rewritten: [1-9]' "$IOP_WORK/counters.out" &&
			grep -q 'nat-tftp-pinhole-hits: [1-9]' "$IOP_WORK/counters.out" ||
			RES[tsunagi,counters]=FAIL
		kill -TERM "${IOP_TSU_PID[$NS_GW]}"
		iop_wait 10 eval '! kill -0 "${IOP_TSU_PID[$NS_GW]}"'
		xt_check_sanitizers
	fi
	[ "${KEEP_TOPO:-0}" = 1 ] || topo_destroy
done
: "${RES[tsunagi,list-nat]:=ok}" "${RES[tsunagi,counters]:=ok}"
RES[kernel,list-nat]=- RES[kernel,counters]=-

printf '    %-12s %-10s %-10s\n' scenario tsunagi kernel
bad=""
for s in $SCEN list-nat counters; do
	printf '    %-12s %-10s %-10s\n' "$s" "${RES[tsunagi,$s]}" "${RES[kernel,$s]}"
	[ "${RES[tsunagi,$s]}" = ok ] || bad="$bad $s"
done
if [ -n "$bad" ]; then
	[ -f "$IOP_WORK/counters.out" ] && grep -E 'nat-(ftp|tftp|dns|drop)' "$IOP_WORK/counters.out" |
		grep -v ': 0$' | sed 's/^/    /'
	[ -f "$IOP_WORK/list-nat.out" ] && sed 's/^/    list-nat| /' "$IOP_WORK/list-nat.out" | head -20
	iop_fail "through tsunagid's NAT:$bad"
fi
iop_pass
