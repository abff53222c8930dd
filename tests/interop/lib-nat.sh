# tests/interop/lib-nat.sh: tsunagid as the NAT gateway of a LAN (sourced after lib.sh).
#
# nat_tsu_conf NS INSIDE_IF OUTSIDE_IF LAN_NET [RULES...]: tsunagid's config in NS
#   with a tsunagi { nat { } } section: PAT of LAN_NET to OUTSIDE_IF's address, plus
#   each extra rule section given (one key a line: $'web {\ntype = forward\n...}'). CONNS, when
#   set, is a swanctl.conf text put before it (connections and secrets).
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
