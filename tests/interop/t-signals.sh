#!/bin/bash
# Signals to tsunagid (site-b, responder) while strongSwan (site-a) has an SA with it:
#   SIGHUP, valid changed config: a new connection appears in --list-conns, the SA and
#          ping keep working;
#   SIGHUP, broken config (an unknown key): the error is logged with file:line, tsunagid
#          keeps running with the old configuration (list-conns unchanged), the SA and
#          ping keep working;
#   SIGTERM: tsunagid sends DELETE (strongSwan drops the IKE SA at once, no DPD is
#          configured), exits with status 0, removes its pidfile and its TUN device.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin signals
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
xt_swan_initiates_to_tsu
conf=$(tsu_dir "$NS_SB")/tsunagi.conf
pid=${IOP_TSU_PID[$NS_SB]}
[ "$(cat "$(tsu_dir "$NS_SB")/tsunagid.pid" 2>/dev/null)" = "$pid" ] ||
	iop_fail "pidfile does not hold tsunagid's pid $pid"
spi_before=$(xt_first_child_json "$NS_SB" spi-in)

# still_working CASE: the SA is the same one and traffic flows.
still_working() {
	tsu_alive "$NS_SB" || iop_fail "$1: tsunagid died"
	tsu_child_up "$NS_SB" || iop_fail "$1: tsunagid lost its CHILD_SA: $(tsu_ctl "$NS_SB" --list-sas | head -3)"
	[ "$(xt_first_child_json "$NS_SB" spi-in)" = "$spi_before" ] ||
		iop_fail "$1: the CHILD_SA was replaced (inbound SPI $spi_before changed)"
	swan_sa_up "$NS_SA" || iop_fail "$1: strongSwan lost its SA"
	ip netns exec "$NS_HA" ping -q -c 3 -i 0.2 -W 2 $HOST_B >/dev/null 2>&1 ||
		iop_fail "$1: host-a cannot ping host-b any more"
}

# SIGHUP with a new connection "extra" inserted into the connections section.
iop_note "SIGHUP, valid config"
cp "$conf" "$conf.orig"
awk '{ print } /^connections \{/ && !done { done = 1
	print "\textra {\n\t\tlocal_addrs = '"$SITE_B_OUT"'\n\t\tremote_addrs = 203.0.113.7"
	print "\t\tlocal {\n\t\t\tauth = psk\n\t\t\tid = site-b.example.net\n\t\t}"
	print "\t\tremote {\n\t\t\tauth = psk\n\t\t\tid = extra.example.net\n\t\t}"
	print "\t\tchildren {\n\t\t\tx {\n\t\t\t\tlocal_ts = 10.2.0.0/24\n\t\t\t\tremote_ts = 10.7.0.0/24\n\t\t\t}\n\t\t}\n\t}" }' \
	"$conf.orig" >"$conf"
kill -HUP "$pid"
iop_wait 5 eval 'tsu_ctl "$NS_SB" --list-conns | grep -q "^extra:"' ||
	iop_fail "valid SIGHUP: the new connection 'extra' does not appear in --list-conns: $(tsu_ctl "$NS_SB" --list-conns)"
tsu_ctl "$NS_SB" --list-conns | grep -q "^s2s:" || iop_fail "valid SIGHUP: connection s2s vanished"
tsu_log_has "$NS_SB" "SIGHUP" || iop_fail "valid SIGHUP: tsunagid did not log the reload"
still_working "valid SIGHUP"

# SIGHUP with an unknown key in connection s2s: nothing changes.
iop_note "SIGHUP, broken config"
conns_before=$(tsu_ctl "$NS_SB" --list-conns)
awk '{ print } /^\ts2s \{/ { print "\t\tno_such_key = 1" }' "$conf.orig" >"$conf"
line=$(grep -n no_such_key "$conf" | cut -d: -f1)
errs=$(xt_tsu_log_count "$NS_SB" "no_such_key")
kill -HUP "$pid"
iop_wait 5 eval '[ "$(xt_tsu_log_count "$NS_SB" no_such_key)" -gt "$errs" ]' ||
	iop_fail "broken SIGHUP: tsunagid did not log the unknown key"
tsu_log_has "$NS_SB" "tsunagi\.conf:$line\b.*no_such_key" ||
	iop_fail "broken SIGHUP: the error does not name tsunagi.conf:$line: $(grep no_such_key "$(tsu_dir "$NS_SB")/tsunagid.log")"
sleep 0.5
still_working "broken SIGHUP"
conns_after=$(tsu_ctl "$NS_SB" --list-conns)
[ "$conns_after" = "$conns_before" ] ||
	iop_fail "broken SIGHUP: --list-conns changed: $(diff <(echo "$conns_before") <(echo "$conns_after") | tr '\n' ' ')"

# SIGTERM: DELETE to the peer, clean exit.
iop_note "SIGTERM"
t0=$SECONDS
kill -TERM "$pid"
iop_wait 10 eval '! kill -0 "$pid" 2>/dev/null' || iop_fail "SIGTERM: tsunagid still runs after 10 s"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || iop_fail "SIGTERM: tsunagid exited with status $rc"
iop_wait 3 swan_log_has "$NS_SA" "received DELETE for IKE_SA" ||
	iop_fail "SIGTERM: strongSwan did not receive a DELETE for the IKE SA"
iop_wait 3 xt_swan_no_ike_sa "$NS_SA" || iop_fail "SIGTERM: strongSwan still has an IKE SA"
[ $((SECONDS - t0)) -le 6 ] || iop_fail "SIGTERM: strongSwan took $((SECONDS - t0)) s to drop the SA"
[ -e "$(tsu_dir "$NS_SB")/tsunagid.pid" ] && iop_fail "SIGTERM: the pidfile is still there"
ip -n "$NS_SB" link show "$TSU_TUN_B" >/dev/null 2>&1 && iop_fail "SIGTERM: TUN device $TSU_TUN_B is still there"
[ -S "$(tsu_dir "$NS_SB")/tsunagi.vici" ] && iop_note "the VICI socket file remains after exit"
tsu_log_has "$NS_SB" "stopped" || iop_fail "SIGTERM: tsunagid did not log that it stopped"
xt_check_sanitizers
iop_pass
