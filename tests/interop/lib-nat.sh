# tests/interop/lib-nat.sh: tsunagid as the NAT gateway of a LAN (sourced after lib.sh).
#
# nat_tsu_conf NS INSIDE_IF OUTSIDE_IF LAN_NET [RULES...]: tsunagid's config in NS
#   with a tsunagi { nat { } } section: PAT of LAN_NET to OUTSIDE_IF's address, plus
#   each extra rule section given (one key a line: $'web {\ntype = forward\n...}'). CONNS, when
#   set, is a swanctl.conf text put before it (connections and secrets).
#   NAT_EXTRA, when set, is put in the nat section before the rules (e.g. "fastpath = no").
# nat_tsu_start NS INSIDE_IF OUTSIDE_IF LAN_NET [RULES...]: writes it and starts it.

nat_tsu_conf() {
	local ns=$1 in_if=$2 out_if=$3 lan=$4 dir r
	shift 4
	dir=$(tsu_dir "$ns")
	mkdir -p "$dir"
	{
		printf '%s\n' "${CONNS:-}"
		printf 'tsunagi {\n\ttun = tn%s\n\tnat {\n\t\tinside = %s\n\t\toutside = %s\n' \
			"$$" "$in_if" "$out_if"
		[ -n "${NAT_QUEUES:-}" ] && printf '\t\tqueues = %s\n' "$NAT_QUEUES"
		[ -n "${NAT_EXTRA:-}" ] && printf '\t\t%s\n' "$NAT_EXTRA"
		printf '\t\trules {\n\t\t\tlan {\n\t\t\t\ttype = pat\n\t\t\t\tprivate = %s\n\t\t\t\tpublic = %s\n\t\t\t}\n' \
			"$lan" "$out_if"
		for r in "$@"; do printf '\t\t\t%s\n' "$r"; done
		printf '\t\t}\n\t}\n}\n'
	} >"$dir/tsunagi.conf"
}

nat_tsu_start() {
	local ns=$1
	nat_tsu_conf "$@"
	TSU_ARGS=(--nat-queue 3 --log nat=${NAT_LOG:-2})
	tsu_start "$ns"
	TSU_ARGS=()
	iop_wait 5 ip netns exec "$ns" iptables -t raw -S TSUNAGI-NAT ||
		{ echo "tsunagid installed no NFQUEUE rules"; return 1; }
}

# --- the NAT scenarios' topology -----------------------------------------------------
#
#   l1 10.9.0.10 --+                                  +-- r1 203.0.113.254 | 198.51.100.254
#   l2 10.9.0.11 --+- sw (bridge) -- in0 gw out0 --+- wsw (bridge)            (mtu 1400) |
#   ls 10.9.0.20 --+   10.9.0.1   203.0.113.1     +-- peer 203.0.113.3      srv 198.51.100.10
#
# gw is the gateway under test; r1, srv and peer have no route to the LAN. peer has
# 10.8.0.1 (on lo) for a tunnel with gw. The switches are bridges in
# their own namespaces, so that no bridged frame ever meets gw's firewall.
NT_L1=10.9.0.10 NT_L2=10.9.0.11 NT_LS=10.9.0.20 NT_LAN=10.9.0.0/24 NT_GW_IN=10.9.0.1
NT_PUB=203.0.113.1 NT_R1=203.0.113.254 NT_R1_FAR=198.51.100.254 NT_SRV=198.51.100.10
NT_PEER=203.0.113.3 NT_PEER_NET=10.8.0.0/24 NT_PEER_IN=10.8.0.1 NT_FAR_MTU=1400

nat_topo() {
	ns_add sw; ns_add l1; ns_add l2; ns_add ls; ns_add gw; ns_add wsw; ns_add r1
	ns_add srv; ns_add peer
	ip -n "$NS_SW" link add br0 type bridge && ip -n "$NS_SW" link set br0 up
	ip -n "$NS_WSW" link add br0 type bridge && ip -n "$NS_WSW" link set br0 up
	local h ns
	for h in l1 l2 ls; do
		ns=NS_${h^^}
		veth "${!ns}" eth0 "$NS_SW" "p$h"
		ip -n "$NS_SW" link set "p$h" master br0
	done
	veth "$NS_GW" in0 "$NS_SW" pgw
	ip -n "$NS_SW" link set pgw master br0
	veth "$NS_GW" out0 "$NS_WSW" pgw
	veth "$NS_R1" eth0 "$NS_WSW" pr1
	veth "$NS_PEER" eth0 "$NS_WSW" ppeer
	for h in pgw pr1 ppeer; do ip -n "$NS_WSW" link set "$h" master br0; done
	veth "$NS_R1" eth1 "$NS_SRV" eth0
	addr "$NS_L1" eth0 $NT_L1/24; addr "$NS_L2" eth0 $NT_L2/24; addr "$NS_LS" eth0 $NT_LS/24
	for ns in "$NS_L1" "$NS_L2" "$NS_LS"; do route "$ns" default via $NT_GW_IN; done
	addr "$NS_GW" in0 $NT_GW_IN/24
	addr "$NS_GW" out0 $NT_PUB/24
	route "$NS_GW" default via $NT_R1
	ns_forward "$NS_GW"
	addr "$NS_R1" eth0 $NT_R1/24
	addr "$NS_R1" eth1 $NT_R1_FAR/24
	ip -n "$NS_R1" link set eth1 mtu $NT_FAR_MTU
	ip -n "$NS_SRV" link set eth0 mtu $NT_FAR_MTU
	ns_forward "$NS_R1"
	addr "$NS_SRV" eth0 $NT_SRV/24
	route "$NS_SRV" default via $NT_R1_FAR
	addr "$NS_PEER" eth0 $NT_PEER/24
	addr "$NS_PEER" lo $NT_PEER_IN/32
	iop_wait 5 ip netns exec "$NS_GW" ping -c1 -W1 $NT_SRV ||
		iop_fail "topology: gw cannot reach srv"
}

# nat_kernel_rules: the Linux kernel's NAT doing the same job in gw (nft): masquerade,
# the port forward and hairpin.
nat_kernel_rules() {
	ip netns exec "$NS_GW" nft -f - <<-EOF
	table ip nat {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			ip daddr $NT_PUB tcp dport 8081 dnat to $NT_LS:80
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "out0" masquerade
			oifname "in0" ip saddr $NT_LAN ct status dnat masquerade
		}
	}
	EOF
}
