#!/bin/bash
# IKEv1 (Main Mode + Quick Mode, PSK) against strongSwan 5.9.8, both sides `version = 1`:
#  - a proposal matrix, one row per line of conf/ikev1-matrix.txt (AES-CBC and GCM,
#    SHA-1/SHA-2, MODP/ECP/Curve25519, PFS on and off, 3DES-MD5-MODP1024 where named),
#    tsunagid initiating and responding, through the masquerading NAT and without it:
#    each row must come up, carry a ping and show its algorithms in swanctl and
#    tsunagictl alike. Rows of one topology and role share a pair of daemons (configs
#    rewritten and reloaded, the SA terminated and initiated again);
#  - two children on one ISAKMP SA (the second by a second Quick Mode), each pinging;
#  - `version = 0` (any): one tsunagid responder answers an IKEv1 and then an IKEv2
#    strongSwan initiator.
#  - NAT-T drafts, with ike-scan (a third implementation) as the initiator, since
#    strongSwan always offers RFC 3947: tsunagid answers Main Mode echoing the best
#    NAT-T vendor ID offered (draft-02, 02\n, 03, RFC 3947), none when none was
#    offered, and logs an unknown vendor ID as hex.
# One line per row on stderr; PASS only when everything passed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev1-matrix
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd ike-scan ike-scan
matrix=${MATRIX:-$IOP_CONF_DIR/ikev1-matrix.txt}
[ -r "$matrix" ] || iop_fail "no matrix $matrix"

# v1 FILE [VERSION]: the rendered s2s connection speaks IKEv1 (or VERSION).
v1() { sed -i "s/^\(\t*\)version = 2\$/\1version = ${2:-1}/" "$1"; }

failed=() nrows=0 group="" topo=""

# use_topo nat|direct: (re)builds the namespaces when the topology changes.
use_topo() {
	[ "$topo" = "$1" ] && return 0
	[ -n "$topo" ] && topo_destroy
	topo=$1 group=""
	topo_build "$1"
}

# both_conf ROLE IKE ESP: writes both configs (IKEv1) for a row.
both_conf() {
	local role=$1 ike=$2 esp=$3 sside tside
	if [ "$role" = initiator ]; then sside=b tside=a; else sside=a tside=b; fi
	s2s_conf "$(swan_dir "$SWAN_NS")/swanctl.conf" $sside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
	v1 "$(swan_dir "$SWAN_NS")/swanctl.conf"
	tsu_conf "$TSU_NS" $tside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
	v1 "$(tsu_dir "$TSU_NS")/tsunagi.conf"
	tsu_fast_conf "$TSU_NS"
}

# row_setup ROLE IKE ESP: configures both daemons for a row; starts them for the first
# row of a topology and role. Sets SWAN_NS, TSU_NS (and why on failure).
row_setup() {
	local role=$1
	if [ "$role" = initiator ]; then SWAN_NS=$NS_SB TSU_NS=$NS_SA; else SWAN_NS=$NS_SA TSU_NS=$NS_SB; fi
	if [ "$group" != "$role" ]; then
		[ -n "$group" ] && iop_stop_gateways "$NS_SA" "$NS_SB"
		group=$role
		swan_prepare "$SWAN_NS"
		swan_fast_retransmit "$SWAN_NS"
		both_conf "$@"
		swan_start "$SWAN_NS"; swan_load "$SWAN_NS"
		tsu_start "$TSU_NS"
		return 0
	fi
	both_conf "$@"
	swan_reload "$SWAN_NS" || { why="swanctl --load-all failed"; return 1; }
	tsu_reload "$TSU_NS" || { why="tsunagid did not reload its config"; return 1; }
}

# initiate ROLE [CHILD]: the row's initiator starts CHILD (net), waiting up to 10 s.
initiate() {
	if [ "$1" = initiator ]; then
		tsu_ctl "$TSU_NS" --initiate --child "${2:-net}" --timeout 10 >>"$(tsu_dir "$TSU_NS")/initiate.out" 2>&1
	else
		swan_ctl "$SWAN_NS" --initiate --child "${2:-net}" --timeout 10 >>"$(swan_dir "$SWAN_NS")/initiate.out" 2>&1
	fi
}

tun_route() {
	if [ "$TSU_NS" = "$NS_SA" ]; then
		tsu_ensure_route "$TSU_NS" "$TSU_TUN_A" "$1"
	else
		tsu_ensure_route "$TSU_NS" "$TSU_TUN_B" "$2"
	fi
}

# row_check ROLE EXP_IKE EXP_ESP: sets why and fails when the row does not work.
row_check() {
	local role=$1 xike=$2 xesp=$3 s t
	initiate "$role"
	iop_wait 10 sa_pair_ok "$SWAN_NS" "$TSU_NS" ||
		{ why="no single matching ISAKMP+CHILD SA on both ends"; return 1; }
	tun_route $NET_B $NET_A || { why="no TUN device"; return 1; }
	PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1 || { why="no ping through the tunnel"; return 1; }
	s=$(swan_ctl "$SWAN_NS" --list-sas 2>&1) t=$(tsu_ctl "$TSU_NS" --list-sas 2>&1)
	grep -q "IKEv1" <<<"$s" || { why="strongSwan lists no IKEv1 SA"; return 1; }
	# Through the NAT, strongSwan at site-b sees tsunagid at the NAT's port 4500.
	if [ "$topo" = nat ] && [ "$role" = initiator ]; then
		grep -q "$NAT_OUT\[4500\]" <<<"$s" || { why="strongSwan does not see tsunagid at ${NAT_OUT}[4500]"; return 1; }
	fi
	grep -Eq "^  $xike\$" <<<"$s" || { why="swanctl IKE: $(grep -Eo '^  [A-Z0-9].*/.*' <<<"$s" | head -1)"; return 1; }
	grep -Eq ", ESP:$xesp\$" <<<"$s" || { why="swanctl ESP: $(grep -Eo 'ESP:.*' <<<"$s" | head -1)"; return 1; }
	grep -Eq " $xike " <<<"$t" || { why="tsunagictl IKE: $(head -1 <<<"$t")"; return 1; }
	grep -Eq " $xesp " <<<"$t" || { why="tsunagictl CHILD: $(sed -n 3p <<<"$t")"; return 1; }
}

# row_teardown ROLE: terminates the SA from the initiating side; both ends must be
# empty afterwards (else why is set, unless it already says something).
row_teardown() {
	if [ "$1" = initiator ]; then
		tsu_ctl "$TSU_NS" --terminate --ike s2s >/dev/null 2>&1
	else
		swan_ctl "$SWAN_NS" --terminate --ike s2s --timeout 5 >/dev/null 2>&1
	fi
	iop_wait 5 sa_none "$SWAN_NS" "$TSU_NS" || why=${why:-"SAs left after --terminate"}
}

# report NAME ROLE START: one line for a row or check; remembers a failure.
report() {
	if [ -z "$why" ]; then
		echo "    $1 ($2): ok ($((SECONDS - $3)) s)" >&2
	else
		echo "    $1 ($2): FAILED: $why" >&2
		failed+=("$1")
	fi
}

# two_children: tsunagid (site-a, behind the NAT) initiates net, then net2 on the same
# ISAKMP SA; each carries its own networks (10.11.0.0/24 <-> 10.12.0.0/24 for net2).
two_children() {
	local start=$SECONDS
	why=""
	iop_stop_gateways "$NS_SA" "$NS_SB"
	group=""
	SWAN_NS=$NS_SB TSU_NS=$NS_SA
	addr "$NS_HA" eth0 10.11.0.10/24; addr "$NS_SA" in0 10.11.0.1/24
	addr "$NS_HB" eth0 10.12.0.10/24; addr "$NS_SB" in0 10.12.0.1/24
	swan_prepare "$SWAN_NS"
	swan_fast_retransmit "$SWAN_NS"
	both_conf initiator aes256-sha256-modp2048 aes128-sha256
	xt_add_child "$(swan_dir "$SWAN_NS")/swanctl.conf" net2 10.12.0.0/24 10.11.0.0/24 none
	xt_add_child "$(tsu_dir "$TSU_NS")/tsunagi.conf" net2 10.11.0.0/24 10.12.0.0/24 none
	swan_start "$SWAN_NS"; swan_load "$SWAN_NS"
	tsu_start "$TSU_NS"
	initiate initiator net
	initiate initiator net2
	counts() {
		echo "tsunagid $(tsu_ike_count "$TSU_NS") ISAKMP/$(tsu_child_count "$TSU_NS") CHILD," \
			"strongSwan $(swan_ike_count "$SWAN_NS") IKE/$(swan_child_count "$SWAN_NS") CHILD"
	}
	both_up() {
		[ "$(tsu_ike_count "$TSU_NS")" = 1 ] && [ "$(tsu_child_count "$TSU_NS")" = 2 ] &&
		[ "$(swan_ike_count "$SWAN_NS")" = 1 ] && [ "$(swan_child_count "$SWAN_NS")" = 2 ]
	}
	if ! iop_wait 15 both_up; then
		why="not one ISAKMP SA with two children: $(counts)"
	elif ! tun_route $NET_B $NET_A || ! tun_route 10.12.0.0/24 10.11.0.0/24; then
		why="no TUN device or route"
	elif ! PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1; then
		why="net: no ping"
	elif ! iop_wait 5 ip netns exec "$NS_HA" ping -n -c1 -W1 -I 10.11.0.10 10.12.0.10; then
		why="net2: no ping"
	fi
	tsu_alive "$TSU_NS" || why="${why:+$why; }tsunagid died"
	report two-children initiator $start
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# version_any: tsunagid at site-b with `version = 0` answers strongSwan (site-a)
# initiating IKEv1, then, reconfigured, IKEv2.
version_any() {
	local start=$SECONDS v
	iop_stop_gateways "$NS_SA" "$NS_SB"
	group=""
	SWAN_NS=$NS_SA TSU_NS=$NS_SB
	swan_prepare "$SWAN_NS"
	swan_fast_retransmit "$SWAN_NS"
	both_conf responder aes128-sha256-modp2048 aes128-sha256
	sed -i 's/^\(\t*\)version = 1$/\1version = 0/' "$(tsu_dir "$TSU_NS")/tsunagi.conf"
	swan_start "$SWAN_NS"; swan_load "$SWAN_NS"
	tsu_start "$TSU_NS"
	for v in 1 2; do
		why=""
		start=$SECONDS
		if [ $v = 2 ]; then
			sed -i 's/^\(\t*\)version = 1$/\1version = 2/' "$(swan_dir "$SWAN_NS")/swanctl.conf"
			swan_reload "$SWAN_NS" || why="swanctl --load-all failed"
		fi
		initiate responder
		if ! iop_wait 10 sa_pair_ok "$SWAN_NS" "$TSU_NS"; then
			why=${why:-"no single matching SA on both ends"}
		elif ! swan_ctl "$SWAN_NS" --list-sas 2>&1 | grep -q "IKEv$v"; then
			why="strongSwan's SA is not IKEv$v"
		elif ! tun_route $NET_B $NET_A || ! PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1; then
			why="no ping through the tunnel"
		fi
		row_teardown responder
		report "version-any-v$v" responder $start
	done
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# natt_drafts: ike-scan at site-a offers NAT-T vendor IDs to tsunagid at site-b.
VID_RFC=4a131c81070358455c5728f20e95452f VID_03=7d9419a65310ca6f2c179d9215529d56
VID_02N=90cb80913ebb696e086381b5ec427b1f VID_02=cd60464335df21f87cfdb2fc68b6a448
VID_ODD=0123456789abcdeffedcba98
VID_DPD=afcad71368a1f1c96b8696fc77570100	# RFC 3706's, in every answer
natt_drafts() {
	local start=$SECONDS out vids offer want vargs
	why=""
	iop_stop_gateways "$NS_SA" "$NS_SB"
	group=""
	tsu_conf "$NS_SB" b IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes128-sha256
	v1 "$(tsu_dir "$NS_SB")/tsunagi.conf"
	tsu_start "$NS_SB"
	# offered (comma-separated) -> the one vendor ID the answer must carry
	for offer in "$VID_02:$VID_02" "$VID_02N,$VID_02:$VID_02N" "$VID_02,$VID_03:$VID_03" \
		"$VID_RFC,$VID_02N,$VID_02:$VID_RFC" "$VID_ODD:" ; do
		want=${offer#*:}
		offer=${offer%%:*}
		mapfile -t vargs < <(tr ',' '\n' <<<"$offer" | sed 's/^/--vendor=/')
		out=$(timeout 20 ip netns exec "$NS_SA" ike-scan -M \
			--trans="(1=7,14=256,2=4,3=1,4=14)" "${vargs[@]}" $SITE_B_OUT 2>&1)
		vids=$(grep -o 'VID=[0-9a-f]*' <<<"$out" | cut -d= -f2 | grep -v "^$VID_DPD\$" |
			paste -sd, -)
		if ! grep -q "Main Mode Handshake returned" <<<"$out"; then
			why="no Main Mode answer to ike-scan offering $offer"
		elif ! grep -q "VID=$VID_DPD" <<<"$out"; then
			why="offered $offer: no DPD vendor ID in the answer"
		elif [ "$vids" != "$want" ]; then
			why="offered $offer: answered with vendor IDs '$vids', want '$want'"
		fi
		[ -n "$why" ] && break
	done
	if [ -z "$why" ] && ! tsu_log_has "$NS_SB" "unknown vendor ID $VID_ODD \(12 bytes\)"; then
		why="tsunagid did not log the unknown vendor ID as hex"
	fi
	tsu_alive "$NS_SB" || why="${why:+$why; }tsunagid died"
	report natt-drafts responder $start
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

did_two=no
while read -r -u 3 name tp role ike esp xike xesp; do
	case "$name" in ''|'#'*) continue ;; esac
	# The NAT rows done: the two-children check still on that topology.
	if [ "$tp" != nat ] && [ "$topo" = nat ] && [ $did_two = no ]; then
		two_children
		did_two=yes
		group=""
	fi
	use_topo "$tp"
	nrows=$((nrows + 1))
	start=$SECONDS
	why=""
	row_setup "$role" "$ike" "$esp" && row_check "$role" "$xike" "$xesp"
	tsu_alive "$TSU_NS" || why="${why:+$why; }tsunagid died"
	row_teardown "$role"
	report "row $name" "$tp, $role" $start
done 3<"$matrix"
[ $nrows -gt 0 ] || iop_fail "no rows in $matrix"
if [ $did_two = no ]; then
	use_topo nat
	two_children
fi
version_any
natt_drafts
[ ${#failed[@]} = 0 ] || iop_fail "${#failed[@]} checks failed: ${failed[*]}"
iop_pass
