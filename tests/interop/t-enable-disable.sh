#!/bin/bash
# tsunagictl --disable / --enable with two connections to strongSwan (no NAT: strongSwan
# must reach tsunagid to be refused): s2s (net 10.1/24 <-> 10.2/24, start) and s2s2
# (net2 10.11/24 <-> 10.12/24, trap, its own identity site-a2 and strongSwan's second
# address 198.51.100.20). While host-a pings host-b through s2s without a pause:
#   --disable s2s2  deletes its IKE SA on both ends (DELETE), removes its trap (no
#                   policy for 10.11/24 in --spd, traffic brings nothing up), lists it as
#                   DISABLED, refuses refresh and --initiate naming it, logs it;
#   strongSwan initiating s2s2 is refused (NO_PROPOSAL_CHOSEN) and tsunagid says the
#   connection is disabled; a reload (SIGHUP) keeps it disabled;
#   --enable s2s2   puts the trap back and traffic brings the tunnel up again.
# Not one ping of s2s is lost. Bad arguments exit 2 with the usage, an unknown
# connection exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin enable-disable
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct
SITE_B_OUT2=198.51.100.20
addr "$NS_SB" out0 $SITE_B_OUT2/24
addr "$NS_HA" eth0 10.11.0.10/24
addr "$NS_SA" in0 10.11.0.1/24
addr "$NS_HB" eth0 10.12.0.10/24
addr "$NS_SB" in0 10.12.0.1/24

# second_conn FILE SIDE KEY=VALUE...: appends the connection s2s2 (child net2) and its
# secret, rendered from the same template, to the rendered FILE.
second_conn() {
	local f=$1 side=$2 tmp; shift 2
	tmp=$(mktemp "$IOP_WORK/conn2.XXXXXX")
	s2s_conf "$tmp" "$side" "$@"
	sed -i -e 's/^\ts2s {/\ts2s2 {/' -e 's/^\t\t\tnet {/\t\t\tnet2 {/' -e 's/^\tike-s2s {/\tike-s2s2 {/' "$tmp"
	sed -n '/^connections {/,/^}/p' "$tmp" | sed '1d;$d' >"$tmp.conn"
	sed -n '/^secrets {/,/^}/p' "$tmp" | sed '1d;$d' >"$tmp.secret"
	sed -i -e "/^connections {/r $tmp.conn" -e "/^secrets {/r $tmp.secret" "$f"
	rm -f "$tmp" "$tmp.conn" "$tmp.secret"
}

swan_prepare "$NS_SB"
swan_fast_retransmit "$NS_SB"
sconf="$(swan_dir "$NS_SB")/swanctl.conf"
s2s_conf "$sconf" b
second_conn "$sconf" b LOCAL_ADDRS=$SITE_B_OUT2 REMOTE_ADDRS=$SITE_A_OUT REMOTE_ID=site-a2.example.net \
	LOCAL_TS=10.12.0.0/24 REMOTE_TS=10.11.0.0/24
swan_start "$NS_SB"; swan_load "$NS_SB" || iop_fail "strongSwan did not load its two connections"
tsu_conf "$NS_SA" a START_ACTION=start
tconf="$(tsu_dir "$NS_SA")/tsunagi.conf"
second_conn "$tconf" a REMOTE_ADDRS=$SITE_B_OUT2 LOCAL_ID=site-a2.example.net \
	LOCAL_TS=10.11.0.0/24 REMOTE_TS=10.12.0.0/24 START_ACTION=trap
tsu_fast_conf "$NS_SA"
tsu_start "$NS_SA"
dir=$(tsu_dir "$NS_SA")

ike2() { swan_ctl "$NS_SB" --list-sas 2>/dev/null | grep -c '^s2s2: #'; }
tsu_conn_sas() { tsu_ctl "$NS_SA" --list-sas 2>/dev/null | grep -c "^$1 *#[0-9]"; }
ping2() { ip netns exec "$NS_HA" ping -n -c1 -W1 -I 10.11.0.10 10.12.0.10 >/dev/null 2>&1; }

iop_wait 20 eval '[ "$(tsu_conn_sas s2s)" = 1 ]' || iop_fail "s2s not up within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" 10.12.0.0/24 || iop_fail "no route to 10.12.0.0/24"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "s2s: host-a cannot ping host-b"
iop_wait 10 ping2 || iop_fail "s2s2: traffic through the trap brought no tunnel up"
iop_wait 5 eval '[ "$(ike2)" = 1 ] && [ "$(tsu_conn_sas s2s2)" = 1 ]' ||
	iop_fail "s2s2 is not up on both ends after traffic"

# s2s's traffic, uninterrupted through everything below (about 40 s at most).
ping_start "$NS_HA" $HOST_B 200 0.2 "$dir/ping-s2s.out"

# --- disable ----------------------------------------------------------------------------
tsu_ctl "$NS_SA" --disable s2s2 >"$dir/disable.out" 2>&1 || iop_fail "--disable s2s2 failed: $(cat "$dir/disable.out")"
grep -q "^connection 's2s2' disabled$" "$dir/disable.out" || iop_fail "--disable did not say so: $(cat "$dir/disable.out")"
iop_wait 5 eval '[ "$(ike2)" = 0 ] && [ "$(tsu_conn_sas s2s2)" = 0 ]' ||
	iop_fail "s2s2's IKE SA not gone on both ends (strongSwan $(ike2), tsunagid $(tsu_conn_sas s2s2))"
swan_log_has "$NS_SB" "received DELETE for IKE_SA s2s2" || iop_fail "strongSwan got no DELETE for s2s2"
tsu_log_has "$NS_SA" "connection 's2s2' disabled" || iop_fail "tsunagid did not log the disabling"
[ "$(tsu_conn_sas s2s)" = 1 ] || iop_fail "disabling s2s2 took s2s down"
tsu_ctl "$NS_SA" --spd >"$dir/spd.out" 2>&1
grep -q "10.11.0.0/24" "$dir/spd.out" && iop_fail "s2s2's trap policy is still there: $(cat "$dir/spd.out")"
grep -q "10.1.0.0/24" "$dir/spd.out" || iop_fail "s2s's policy is gone from --spd: $(cat "$dir/spd.out")"
ping2 && iop_fail "10.11.0.10 reaches 10.12.0.10 with s2s2 disabled"
sleep 2
[ "$(ike2)" = 0 ] && [ "$(tsu_conn_sas s2s2)" = 0 ] || iop_fail "traffic brought disabled s2s2 up"
tsu_ctl "$NS_SA" --list-conns >"$dir/conns.out" 2>&1
grep -q "^s2s2: .*, DISABLED$" "$dir/conns.out" || iop_fail "--list-conns does not show s2s2 DISABLED: $(cat "$dir/conns.out")"
grep "^s2s: " "$dir/conns.out" | grep -q DISABLED && iop_fail "--list-conns shows s2s DISABLED"
tsu_ctl "$NS_SA" --list-conns --json >"$dir/conns.json" 2>&1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any("s2s2" in e and e["s2s2"].get("tsunagi-disabled")=="yes" for e in d)' \
	"$dir/conns.json" || iop_fail "--list-conns --json has no tsunagi-disabled = yes for s2s2"
tsu_ctl "$NS_SA" refresh s2s2 >"$dir/refresh.out" 2>&1
[ $? = 1 ] && grep -q "connection 's2s2' is disabled" "$dir/refresh.out" ||
	iop_fail "refresh s2s2: not exit 1 saying it is disabled: $(cat "$dir/refresh.out")"
tsu_ctl "$NS_SA" --initiate --child net2 --ike s2s2 >"$dir/initiate.out" 2>&1
[ $? = 1 ] && grep -q "is disabled" "$dir/initiate.out" ||
	iop_fail "--initiate of disabled s2s2: not exit 1 saying it is disabled: $(cat "$dir/initiate.out")"
tsu_ctl "$NS_SA" --disable s2s2 >"$dir/disable2.out" 2>&1 || iop_fail "a second --disable s2s2 failed"

# --- strongSwan initiating s2s2 is refused -------------------------------------------
swan_ctl "$NS_SB" --initiate --child net2 --timeout 10 >"$dir/swan-initiate.out" 2>&1 &&
	iop_fail "strongSwan brought up disabled s2s2"
swan_log_has "$NS_SB" "received NO_PROPOSAL_CHOSEN notify" ||
	iop_fail "strongSwan was not refused with NO_PROPOSAL_CHOSEN"
tsu_log_has "$NS_SA" "new IKE SA from $SITE_B_OUT2\\[500\\] refused: connection 's2s2' is disabled" ||
	iop_fail "tsunagid did not log that it refused s2s2 because it is disabled"
[ "$(tsu_conn_sas s2s2)" = 0 ] || iop_fail "tsunagid has an SA of disabled s2s2"

# --- reload keeps it disabled ---------------------------------------------------------
tsu_reload "$NS_SA" || iop_fail "reload (SIGHUP) was not logged"
tsu_log_has "$NS_SA" "connection 's2s2' stays disabled" || iop_fail "the reload did not keep s2s2 disabled"
tsu_ctl "$NS_SA" --list-conns 2>&1 | grep -q "^s2s2: .*DISABLED$" || iop_fail "after a reload s2s2 is not DISABLED"
ping2 && iop_fail "after a reload, 10.11.0.10 reaches 10.12.0.10 with s2s2 disabled"
[ "$(tsu_conn_sas s2s)" = 1 ] || iop_fail "the reload took s2s down"

# --- enable -----------------------------------------------------------------------------
tsu_ctl "$NS_SA" --enable s2s2 >"$dir/enable.out" 2>&1 || iop_fail "--enable s2s2 failed: $(cat "$dir/enable.out")"
grep -q "^connection 's2s2' enabled$" "$dir/enable.out" || iop_fail "--enable did not say so: $(cat "$dir/enable.out")"
tsu_ctl "$NS_SA" --list-conns 2>&1 | grep -q "DISABLED" && iop_fail "--list-conns still shows a DISABLED connection"
iop_wait 10 ping2 || iop_fail "after --enable, traffic through the trap brings s2s2 up no more"
iop_wait 5 eval '[ "$(ike2)" = 1 ] && [ "$(tsu_conn_sas s2s2)" = 1 ]' || iop_fail "s2s2 not up on both ends after --enable"

wait "$PING_PID"
lost=$(ping_lost "$dir/ping-s2s.out")
[ "$lost" = 0 ] || iop_fail "s2s lost $lost of 200 pings while s2s2 was disabled, refused, reloaded and enabled"

# --- bad arguments ----------------------------------------------------------------------
for args in "--enable" "--disable" "--enable s2s2 extra" "--disable s2s2 --list-sas" "--enable="; do
	# shellcheck disable=SC2086
	tsu_ctl "$NS_SA" $args >"$dir/usage.out" 2>&1
	rc=$?
	[ $rc = 2 ] || iop_fail "tsunagictl $args exited $rc, not 2"
	grep -q "^usage: tsunagictl" "$dir/usage.out" || iop_fail "tsunagictl $args printed no usage"
done
for v in --enable --disable; do
	tsu_ctl "$NS_SA" $v nosuch >"$dir/nosuch.out" 2>&1
	[ $? = 1 ] && grep -q "no connection named 'nosuch'" "$dir/nosuch.out" ||
		iop_fail "$v nosuch: not exit 1 with 'no connection named': $(cat "$dir/nosuch.out")"
done
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
