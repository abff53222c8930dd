#!/bin/bash
# Proposal matrix through the NAT, one row per line of conf/matrix.txt: both sides get
# the row's IKE and ESP proposals; the SA must come up, carry a ping and show the
# expected algorithms in swanctl --list-sas and tsunagictl --list-sas alike. Rows of one
# role share one pair of daemons: configs are rewritten and reloaded (swanctl
# --load-all, SIGHUP to tsunagid), the SA terminated and initiated again. One line per
# row on stderr; the result is PASS only when every row passed.
. "$(dirname "$0")/lib.sh"
iop_begin matrix
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
matrix=${MATRIX:-$IOP_CONF_DIR/matrix.txt}
[ -r "$matrix" ] || iop_fail "no matrix $matrix"

topo_build nat
failed=() nrows=0 group=""

# row_setup ROLE IKE ESP: (re)configures both daemons for a row; starts them for the
# first row of a role. Sets SWAN_NS, TSU_NS (and why on failure).
row_setup() {
	local role=$1 ike=$2 esp=$3 sside tside
	if [ "$role" = initiator ]; then
		SWAN_NS=$NS_SB TSU_NS=$NS_SA sside=b tside=a
	else
		SWAN_NS=$NS_SA TSU_NS=$NS_SB sside=a tside=b
	fi
	if [ "$group" != "$role" ]; then
		[ -n "$group" ] && iop_stop_gateways "$NS_SA" "$NS_SB"
		group=$role
		swan_prepare "$SWAN_NS"
		s2s_conf "$(swan_dir "$SWAN_NS")/swanctl.conf" $sside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
		swan_start "$SWAN_NS"; swan_load "$SWAN_NS"
		tsu_conf "$TSU_NS" $tside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
		tsu_fast_conf "$TSU_NS"
		tsu_start "$TSU_NS"
		return 0
	fi
	s2s_conf "$(swan_dir "$SWAN_NS")/swanctl.conf" $sside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
	swan_reload "$SWAN_NS" || { why="swanctl --load-all failed"; return 1; }
	tsu_conf "$TSU_NS" $tside IKE_PROPOSALS="$ike" ESP_PROPOSALS="$esp"
	tsu_fast_conf "$TSU_NS"
	tsu_reload "$TSU_NS" || { why="tsunagid did not reload its config"; return 1; }
}

# row_check ROLE EXP_IKE EXP_ESP: sets why and fails when the row does not work.
row_check() {
	local role=$1 xike=$2 xesp=$3 s t
	if [ "$role" = initiator ]; then
		tsu_ctl "$TSU_NS" --initiate --child net --timeout 10 >>"$(tsu_dir "$TSU_NS")/initiate.out" 2>&1
	else
		swan_ctl "$SWAN_NS" --initiate --child net --timeout 10 >>"$(swan_dir "$SWAN_NS")/initiate.out" 2>&1
	fi
	iop_wait 10 sa_pair_ok "$SWAN_NS" "$TSU_NS" ||
		{ why="no single matching IKE+CHILD SA on both ends"; return 1; }
	if [ "$role" = initiator ]; then
		tsu_ensure_route "$TSU_NS" "$TSU_TUN_A" $NET_B || { why="no TUN device"; return 1; }
	else
		tsu_ensure_route "$TSU_NS" "$TSU_TUN_B" $NET_A || { why="no TUN device"; return 1; }
	fi
	PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1 || { why="no ping through the tunnel"; return 1; }
	s=$(swan_ctl "$SWAN_NS" --list-sas 2>&1) t=$(tsu_ctl "$TSU_NS" --list-sas 2>&1)
	grep -Eq "^  $xike\$" <<<"$s" || { why="swanctl IKE: $(grep -Eo '^  [A-Z].*/.*' <<<"$s" | head -1)"; return 1; }
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

while read -r -u 3 name role ike esp xike xesp; do
	case "$name" in ''|'#'*) continue ;; esac
	nrows=$((nrows + 1))
	start=$SECONDS
	why=""
	row_setup "$role" "$ike" "$esp" && row_check "$role" "$xike" "$xesp"
	tsu_alive "$TSU_NS" || why="${why:+$why; }tsunagid died"
	row_teardown "$role"
	if [ -z "$why" ]; then
		echo "    row $name ($role): ok ($((SECONDS - start)) s)" >&2
	else
		echo "    row $name ($role): FAILED: $why" >&2
		failed+=("$name")
	fi
done 3<"$matrix"
[ $nrows -gt 0 ] || iop_fail "no rows in $matrix"
[ ${#failed[@]} = 0 ] || iop_fail "${#failed[@]} of $nrows rows failed: ${failed[*]}"
iop_pass
