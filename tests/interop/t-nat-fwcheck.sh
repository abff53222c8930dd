#!/bin/bash
# nat_fw_check (daemon/nat_fw_check.c) against the real kernel, through its probe
# (tests/interop/nat_fw_probe), in a namespace of its own. No daemon runs: tsunagid's
# rules are the ones `tsunagid --nat-rules` prints for a NAT configuration, fed to
# iptables-restore --noflush as tsunagid feeds them. Each case wants one answer:
#   nothing     quiet
#   ours        tsunagid's rules (ip raw PREROUTING/OUTPUT jumps, TSUNAGI-* chains): quiet
#   raw         + an operator's rule in raw PREROUTING: not quiet (rule in ip raw PREROUTING);
#               so is "-i d0 -j TSUNAGI-NAT" (our jump behind a match)
#   forward     + iptables -A FORWARD -j DROP: not quiet (nft chain ip filter FORWARD); the
#               chain flushed (empty, policy accept): quiet; policy drop: not quiet
#   output      only an OUTPUT rule (iptables -A OUTPUT): quiet
#   inet        nft table inet filter, forward chain with a rule: not quiet; the same
#               with 101-character table and chain names
#   masq        iptables -t nat -A POSTROUTING -j MASQUERADE: not quiet (ip nat POSTROUTING)
#   netdev      an nft netdev ingress chain on a veth device: not quiet; egress only: quiet;
#               an inet ingress chain: not quiet
#   xfrm        ip xfrm policy ... dir fwd, then dir out: not quiet; flushed: quiet again
#   cost        1000 calls with tsunagid's rules, and with 2000 forward rules: each under
#               2 ms of CPU (the figures are in the work directory's cost.out)
#   legacy      a table of iptables-legacy (last: it stays in the namespace): not quiet
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-nat.sh"
iop_begin nat-fwcheck
iop_require_tsunagid
for c in iptables:iptables iptables-restore:iptables iptables-legacy:iptables nft:nftables; do
	iop_require_cmd "${c%%:*}" "${c#*:}"
done
PROBE=$BUILD/tests/interop/nat_fw_probe
[ -x "$PROBE" ] || iop_skip "tests/interop/nat_fw_probe not built"

SCEN=${SCEN:-"nothing ours raw forward output inet masq netdev xfrm cost legacy"}
declare -A RES=()
ns_add gw
X() { ip netns exec "$NS_GW" "$@"; }
X ip link add d0 type veth peer name d1 || iop_fail "cannot add a veth pair"

# want ANSWER: the probe says exactly that ("quiet" or "not quiet: WHY").
want() {
	local got
	got=$(X "$PROBE" 2>&1)
	[ "$got" = "$1" ] && return 0
	echo "    want '$1', probe said '$got'"
	return 1
}

# tsunagid's own rules, as it installs them for this configuration.
nat_tsu_conf "$NS_GW" d0 d1 10.9.0.0/24
"$BUILD/tsunagid" --config "$(tsu_dir "$NS_GW")/tsunagi.conf" --nat-queue 3 --nat-rules \
	>"$IOP_WORK/rules.txt" 2>"$IOP_WORK/rules.err" ||
	iop_fail "tsunagid --nat-rules: $(cat "$IOP_WORK/rules.err")"
grep -q '^-I PREROUTING 1 -j TSUNAGI-NAT$' "$IOP_WORK/rules.txt" ||
	iop_fail "no PREROUTING jump in tsunagid --nat-rules: $(cat "$IOP_WORK/rules.txt")"

t_nothing() { want quiet; }
t_ours() {
	X iptables-restore --noflush <"$IOP_WORK/rules.txt" || return 1
	X iptables -t raw -S | grep -q -- '-A TSUNAGI-NAT ' || return 1
	want quiet
}
t_raw() {
	X iptables -t raw -A PREROUTING -s 10.1.2.3 -j ACCEPT || return 1
	want "not quiet: rule in ip raw PREROUTING" || return 1
	X iptables -t raw -D PREROUTING -s 10.1.2.3 -j ACCEPT && want quiet || return 1
	# our jump's target behind a match: the operator's, not ours
	X iptables -t raw -A PREROUTING -i d0 -j TSUNAGI-NAT || return 1
	want "not quiet: rule in ip raw PREROUTING" || return 1
	X iptables -t raw -D PREROUTING -i d0 -j TSUNAGI-NAT && want quiet
}
t_forward() {
	X iptables -A FORWARD -j DROP || return 1
	want "not quiet: nft chain ip filter FORWARD" || return 1
	X iptables -F FORWARD && want quiet || return 1
	X iptables -P FORWARD DROP || return 1
	want "not quiet: nft chain ip filter FORWARD (policy drop)" || return 1
	X iptables -P FORWARD ACCEPT && want quiet
}
t_output() {
	X iptables -A OUTPUT -p tcp --dport 25 -j DROP || return 1
	want quiet || return 1
	X iptables -F OUTPUT
}
t_inet() {
	X nft add table inet filter &&
		X nft add chain inet filter forward '{ type filter hook forward priority 0; }' || return 1
	want quiet || return 1		# empty, policy accept: changes nothing
	X nft add rule inet filter forward ct state established accept || return 1
	want "not quiet: nft chain inet filter forward" || return 1
	X nft delete table inet filter && want quiet || return 1
	# a chain name longer than the probe's why shows (the rules are asked for by
	# the whole name: a cut one would find none, and say quiet)
	local long
	long=f$(printf '%0100d' 0)
	X nft add table inet "$long" &&
		X nft add chain inet "$long" "$long" '{ type filter hook forward priority 0; }' &&
		X nft add rule inet "$long" "$long" counter || return 1
	want "not quiet: nft chain inet ${long:0:40} ${long:0:40}" || return 1
	X nft delete table inet "$long" && want quiet
}
t_masq() {
	X iptables -t nat -A POSTROUTING -o d0 -j MASQUERADE || return 1
	want "not quiet: nft chain ip nat POSTROUTING" || return 1
	X nft delete table ip nat && want quiet
}
t_netdev() {
	X nft add table netdev t || return 1
	X nft add chain netdev t out '{ type filter hook egress device d0 priority 0; }' &&
		X nft add rule netdev t out counter || return 1
	want quiet || return 1		# egress still sees a redirected packet
	X nft add chain netdev t in '{ type filter hook ingress device d0 priority 0; }' &&
		X nft add rule netdev t in counter || return 1
	want "not quiet: nft chain netdev t in" || return 1
	X nft delete table netdev t && want quiet || return 1
	# inet's own ingress hook (Linux 5.10)
	X nft add table inet t &&
		X nft add chain inet t in '{ type filter hook ingress device d0 priority 0; }' &&
		X nft add rule inet t in counter || return 1
	want "not quiet: nft chain inet t in" || return 1
	X nft delete table inet t && want quiet
}
t_xfrm() {
	X ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir fwd || return 1
	want "not quiet: xfrm policies (in 0, out 0, fwd 1)" || return 1
	X ip xfrm policy flush && want quiet || return 1
	X ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out || return 1
	want "not quiet: xfrm policies (in 0, out 1, fwd 0)" || return 1
	X ip xfrm policy flush && want quiet
}
t_legacy() {
	X iptables-legacy -t raw -S >/dev/null || return 1
	want "not quiet: iptables-legacy tables in use (raw)"
}
# calls N: "calls N cpu-us-per-call U wall-us-per-call W"; U under 2000.
cost_ok() {
	local out
	out=$(X "$PROBE" -n 1000 | tail -1)
	echo "$1: $out" >>"$IOP_WORK/cost.out"
	iop_note "$1: $out"
	awk -v l="$out" 'BEGIN { split(l, f, " "); exit !(f[1] == "calls" && f[4] + 0 < 2000) }'
}
t_cost() {
	cost_ok "tsunagid's rules" || return 1
	X nft add table inet filter &&
		X nft add chain inet filter forward '{ type filter hook forward priority 0; }' || return 1
	local i
	for i in $(seq 1 2000); do echo "add rule inet filter forward ip saddr 10.7.$((i / 250)).$((i % 250)) accept"; done |
		X nft -f - || return 1
	cost_ok "+ 2000 forward rules" || return 1
	X nft delete table inet filter
}

for s in $SCEN; do
	if "t_$s"; then RES[$s]=ok; else RES[$s]=FAIL; fi
done
xt_cases_report
[ -f "$IOP_WORK/cost.out" ] && sed 's/^/    cost| /' "$IOP_WORK/cost.out"
[ -n "$BAD" ] && iop_fail "nat_fw_check:$BAD"
iop_pass
