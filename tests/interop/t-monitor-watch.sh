#!/bin/bash
# tsunagictl --monitor and --watch against tsunagid (site-a, behind the NAT) and
# strongSwan (site-b). --monitor prints one timestamped line per event: ike-up and
# child-up when the tunnel comes up (connection, peer at port 4500, SPIs equal to the
# SAs'), child-rekey and ike-rekey (old and new SPIs), child-down and ike-down when it is
# terminated; --count N ends it after N events, --timeout after S seconds (exit 1 when
# fewer than N came); --json makes each event one JSON object per line. --watch --interval 1 --count 4 prints 4 tables (no terminal
# escapes on a pipe) whose rates for s2s/net are above zero in and out while ping -f
# runs through the tunnel, and "-" in the first (no earlier sample). Bad arguments of
# both exit 2 with the usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin monitor-watch
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat
pair_start_tsu_initiator START_ACTION=none
dir=$(tsu_dir "$NS_SA")
ctl() { ip netns exec "$NS_SA" "$BUILD/tsunagictl" --uri "$(tsu_uri "$NS_SA")" "$@"; }
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
PEER="peer=$SITE_B_OUT\\[4500\\]"
mon="$dir/monitor.out"
# event NAME: the monitor's first line of that event.
event() { grep -E "${TS}$1 " "$mon" | head -1; }
# val LINE KEY: KEY's value in a monitor line.
val() { grep -o " $2=[^ ]*" <<<"$1" | head -1 | cut -d= -f2; }

ctl --monitor --timeout 90 >"$mon" 2>"$dir/monitor.err" &
MON_PID=$!
sleep 1
tsu_ctl "$NS_SA" --initiate --child net >"$dir/initiate.out" 2>&1 || iop_fail "--initiate failed: $(cat "$dir/initiate.out")"
iop_wait 5 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "no matching SA pair after --initiate"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device $TSU_TUN_A"
ike_spis=$(swan_ike_spis "$NS_SB") child_spis=$(tsu_child_spis "$NS_SA")
iop_wait 5 eval '[ -n "$(event child-up)" ]' || iop_fail "--monitor printed no child-up: $(cat "$mon")"
line=$(event ike-up)
[ -n "$line" ] || iop_fail "--monitor printed no ike-up: $(cat "$mon")"
grep -Eq " conn=s2s .*$PEER .*state=ESTABLISHED$" <<<"$line" || iop_fail "ike-up line: $line"
[ "$(val "$line" spi-i)_i $(val "$line" spi-r)_r" = "$ike_spis" ] ||
	iop_fail "ike-up SPIs differ from strongSwan's '$ike_spis': $line"
line=$(event child-up)
grep -Eq " conn=s2s child=net .*$PEER .*state=INSTALLED$" <<<"$line" || iop_fail "child-up line: $line"
[ "$(val "$line" spi-in) $(val "$line" spi-out)" = "$child_spis" ] ||
	iop_fail "child-up SPIs differ from --list-sas's '$child_spis': $line"

# --- --watch while ping -f runs -------------------------------------------------------
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "host-a cannot ping host-b"
ip netns exec "$NS_HA" ping -q -f -c 200000 -w 8 $HOST_B >"$dir/flood.out" 2>&1 &
FLOOD_PID=$!
sleep 1
ctl --watch --interval 1 --count 4 >"$dir/watch.out" 2>&1 || iop_fail "--watch failed: $(cat "$dir/watch.out")"
wait "$FLOOD_PID"
grep -q $'\033' "$dir/watch.out" && iop_fail "--watch wrote terminal escapes to a pipe"
[ "$(grep -c '^tsunagictl --watch every 1s, ' "$dir/watch.out")" = 4 ] || iop_fail "--watch --count 4 did not print 4 tables: $(cat "$dir/watch.out")"
[ "$(grep -c '^Conn/Child .*In-B/s *Out-B/s *In-p/s *Out-p/s$' "$dir/watch.out")" = 4 ] || iop_fail "--watch tables lack their header"
rows=$(grep '^s2s/net ' "$dir/watch.out")
[ "$(wc -l <<<"$rows")" = 4 ] || iop_fail "--watch: not one s2s/net row per table: $rows"
head -1 <<<"$rows" | grep -Eq ' - +- +- +-$' || iop_fail "--watch: the first table has rates: $(head -1 <<<"$rows")"
awk -v p="${SITE_B_OUT}[4500]" '$2 != p { bad = 1 } END { exit bad }' <<<"$rows" ||
	iop_fail "--watch: peer column is not ${SITE_B_OUT}[4500]: $rows"
tail -3 <<<"$rows" | awk '$6 > 0 && $7 > 0 && $8 > 0 && $9 > 0 { ok++ } END { exit ok == 3 ? 0 : 1 }' ||
	iop_fail "--watch: rates not above zero in and out during ping -f: $rows"
tail -1 <<<"$rows" | awk -v i="${child_spis% *}" -v o="${child_spis#* }" '$4 == i && $5 == o { f = 1 } END { exit !f }' ||
	iop_fail "--watch: SPIs differ from --list-sas's '$child_spis': $(tail -1 <<<"$rows")"

# --- rekeys -----------------------------------------------------------------------------
old=$(tsu_child_spis "$NS_SA")
tsu_ctl "$NS_SA" --rekey --child net >/dev/null 2>&1 || iop_fail "--rekey --child net failed"
iop_wait 8 child_rekeyed "$NS_SB" "$NS_SA" "$old" || iop_fail "CHILD SA not rekeyed"
new=$(tsu_child_spis "$NS_SA")
iop_wait 5 eval '[ -n "$(event child-rekey)" ]' || iop_fail "--monitor printed no child-rekey: $(cat "$mon")"
line=$(event child-rekey)
grep -Eq " conn=s2s child=net .*$PEER " <<<"$line" || iop_fail "child-rekey line: $line"
[ "$(val "$line" spi-in) $(val "$line" spi-out)" = "$old" ] && [ "$(val "$line" new-spi-in) $(val "$line" new-spi-out)" = "$new" ] ||
	iop_fail "child-rekey SPIs are not old '$old' -> new '$new': $line"
tsu_ctl "$NS_SA" --rekey --ike s2s >/dev/null 2>&1 || iop_fail "--rekey --ike s2s failed"
iop_wait 8 eval '[ "$(swan_ike_spis "$NS_SB")" != "$ike_spis" ] && sa_pair_ok "$NS_SB" "$NS_SA"' || iop_fail "IKE SA not rekeyed"
new_ike=$(swan_ike_spis "$NS_SB")
iop_wait 5 eval '[ -n "$(event ike-rekey)" ]' || iop_fail "--monitor printed no ike-rekey: $(cat "$mon")"
line=$(event ike-rekey)
[ "$(val "$line" spi-i)_i $(val "$line" spi-r)_r" = "$ike_spis" ] && [ "$(val "$line" new-spi-i)_i $(val "$line" new-spi-r)_r" = "$new_ike" ] ||
	iop_fail "ike-rekey SPIs are not old '$ike_spis' -> new '$new_ike': $line"

# --- terminate: child-down, ike-down; --count ends a monitor by itself -----------------
ctl --monitor --json --count 2 --timeout 20 >"$dir/monitor2.out" 2>&1 &
MON2_PID=$!
sleep 1
tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1 || iop_fail "--terminate failed"
iop_wait 10 eval '! kill -0 $MON2_PID 2>/dev/null' || iop_fail "--monitor --count 2 did not end after the terminate"
wait "$MON2_PID" || iop_fail "--monitor --count 2 exited $? after two events: $(cat "$dir/monitor2.out")"
python3 - "$dir/monitor2.out" <<'EOF' || iop_fail "--monitor --json --count 2: not 2 JSON lines of child-updown and ike-updown: $(cat "$dir/monitor2.out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert len(objs) == 2, len(objs)
assert sorted(o["event"] for o in objs) == ["child-updown", "ike-updown"], objs
assert all(o["time"].endswith("Z") and "s2s" in o["data"] for o in objs), objs
EOF
iop_wait 5 eval '[ -n "$(event ike-down)" ]' || iop_fail "--monitor printed no ike-down: $(cat "$mon")"
grep -Eq " conn=s2s child=net .*$PEER " <<<"$(event child-down)" || iop_fail "child-down line: $(event child-down)"
grep -Eq " conn=s2s .*$PEER " <<<"$(event ike-down)" || iop_fail "ike-down line: $(event ike-down)"
bad=$(grep -Evc "$TS(ike|child)-(up|down|rekey) conn=s2s " "$mon")
[ "$bad" = 0 ] || iop_fail "--monitor printed $bad lines not of its form: $(cat "$mon")"
kill "$MON_PID" 2>/dev/null; wait "$MON_PID" 2>/dev/null

# --timeout alone bounds it; with --count unmet it exits 1.
start=$SECONDS
ctl --monitor --count 1 --timeout 2 >"$dir/monitor3.out" 2>&1
rc=$?
[ $rc = 1 ] && [ $((SECONDS - start)) -le 4 ] || iop_fail "--monitor --count 1 --timeout 2 with no event: exit $rc after $((SECONDS - start)) s"
ctl --monitor --timeout 1 >/dev/null 2>&1 || iop_fail "--monitor --timeout 1 with no event did not exit 0"

# --- bad arguments ----------------------------------------------------------------------
for args in "--monitor extra" "--monitor --count 0" "--monitor --count x" "--monitor --interval 1" \
	"--watch --interval 0" "--watch --interval -1" "--watch --count" "--watch --timeout 1x" \
	"--list-sas --count 2" "--watch --monitor"; do
	# shellcheck disable=SC2086
	ctl $args >"$dir/usage.out" 2>&1
	rc=$?
	[ $rc = 2 ] || iop_fail "tsunagictl $args exited $rc, not 2"
	grep -q "^usage: tsunagictl" "$dir/usage.out" || iop_fail "tsunagictl $args printed no usage"
done
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
