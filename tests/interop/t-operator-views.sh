#!/bin/bash
# The operator views of tsunagictl against tsunagid (site-a, behind the NAT, initiator,
# start_action = trap) and strongSwan (site-b): `show ike sa [detail]` and `show ipsec
# sa [detail]` show the peer at port 4500, role, state, identities, algorithms,
# lifetime/lifesize, last DPD and SPIs equal to strongSwan's, and packet counters > 0
# after a ping; `clear counters` zeroes the SA's counters (and they count again after);
# `clear ipsec sa CONN` takes the CHILD_SA down on both ends, traffic brings it back
# through the trap, and so does `refresh CONN`; after `clear ike sa PEER` no SA is left
# and traffic brings both back. Usage errors exit 2. tsunagid runs with --log-format
# json: every line of its log is a JSON object, lines naming an SA carry its state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin operator-views
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat

# A byte lifetime (the view's lifesize) and DPD every second (its last DPD).
PAIR_TSU_CHILD=("rekey_bytes = 50000000" "life_bytes = 60000000")
PAIR_TSU_CONN=("dpd_delay = 1")
TSU_ARGS=(--log-format json)
pair_start_tsu_initiator START_ACTION=trap
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device $TSU_TUN_A"
# traffic_brings_back WHAT: host-a's pings bring the trapped SA up again.
traffic_brings_back() {
	iop_ping "$NS_HA" $HOST_B 3 || iop_fail "$1: host-a cannot ping host-b through the trap"
	iop_wait 5 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$1: not one matching IKE+CHILD SA on both ends after traffic (tsunagid $(tsu_ike_count "$NS_SA")/$(tsu_child_count "$NS_SA"), strongSwan $(swan_ike_count "$NS_SB")/$(swan_child_count "$NS_SB"))"
}
traffic_brings_back "at start"
sleep 2	# a DPD went out

dir=$(tsu_dir "$NS_SA")
# show FILE ARGS...: tsunagictl ARGS into FILE (kept in the work directory), must exit 0.
show() {
	local f="$dir/$1"; shift
	tsu_ctl "$NS_SA" "$@" >"$f" 2>&1 || iop_fail "tsunagictl $* failed: $(cat "$f")"
	cat "$f"
}
# field TEXT LABEL: the value after "LABEL: " in a detail view.
field() { sed -n "s|^ *$2: ||p" <<<"$1" | head -1; }
# column TEXT HEADER ROW-REGEX: the value in the column named HEADER of the first row
# matching ROW-REGEX (columns are single words; headers may be two: "SPI in").
column() {
	awk -v h="$2" -v r="$3" 'NR == 1 { line = $0; gsub(/SPI in/, "SPI_in", line); gsub(/SPI out/, "SPI_out", line);
		gsub(/Initiator SPI/, "Initiator_SPI", line); gsub(/Responder SPI/, "Responder_SPI", line);
		gsub(/Remote ID/, "Remote_ID", line); gsub(/Life s\/KB/, "Life", line);
		gsub(/Pkts in/, "Pkts_in", line); gsub(/Pkts out/, "Pkts_out", line);
		n = split(line, hs, " "); for (i = 1; i <= n; i++) if (hs[i] == h) c = i; next }
		$0 ~ r && !done { print $c; done = 1 }' <<<"$1"
}
PEER="$SITE_B_OUT\\[4500\\]"

# --- show ike sa ------------------------------------------------------------------------
out=$(show ike.out show ike sa)
row=$(grep "^s2s " <<<"$out") || iop_fail "show ike sa has no row for s2s: $out"
grep -q " $PEER " <<<"$row" || iop_fail "show ike sa: peer is not $SITE_B_OUT[4500]: $row"
grep -q " initiator " <<<"$row" || iop_fail "show ike sa: role is not initiator: $row"
grep -q " ESTABLISHED " <<<"$row" || iop_fail "show ike sa: state is not ESTABLISHED: $row"
swan=$(swan_ike_spis "$NS_SB")
tsu="$(column "$out" Initiator_SPI '^s2s ')_i $(column "$out" Responder_SPI '^s2s ')_r"
[ -n "$swan" ] && [ "$swan" = "$tsu" ] || iop_fail "show ike sa: SPIs '$tsu' differ from strongSwan's '$swan'"
[ -n "$(column "$out" Remote_ID '^s2s ')" ] ||
	iop_fail "show ike sa: no remote identity: $row"
[[ "$(column "$out" Rekey '^s2s ')" =~ ^[0-9]+$ ]] || iop_fail "show ike sa: no remaining rekey time: $row"

out=$(show ike-detail.out show ike sa detail)
grep -q "^IKE SA s2s #[0-9]*: ESTABLISHED, IKEv2, initiator$" <<<"$out" ||
	iop_fail "show ike sa detail: no heading line: $out"
[[ "$(field "$out" Peer)" =~ ^$PEER,\ id\ \'.+\'$ ]] || iop_fail "show ike sa detail: Peer line wrong: $out"
[[ "$(field "$out" Local)" =~ ^100\.64\.0\.2\[4500\],\ id\ \'.+\'$ ]] ||
	iop_fail "show ike sa detail: Local line wrong: $out"
[[ "$(field "$out" NAT)" =~ ^(in\ front\ of\ us|both\ sides)$ ]] || iop_fail "show ike sa detail: NAT not detected on our side: $out"
[ "$(field "$out" Algorithms)" = "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519" ] ||
	iop_fail "show ike sa detail: algorithms wrong: $out"
[[ "$(field "$out" "Last message from peer")" =~ ^[0-9]+s\ ago$ ]] ||
	iop_fail "show ike sa detail: no time of the peer's last message: $out"
[[ "$(field "$out" "Last DPD")" =~ ^[0-9]+s\ ago$ ]] || iop_fail "show ike sa detail: no time of the last DPD: $out"
[[ "$(field "$out" "CHILD SAs")" =~ ^net\ \#[0-9]+$ ]] || iop_fail "show ike sa detail: CHILD SAs wrong: $out"

# --- show ipsec sa ----------------------------------------------------------------------
out=$(show ipsec.out show ipsec sa)
row=$(grep "^s2s/net " <<<"$out") || iop_fail "show ipsec sa has no row for s2s/net: $out"
grep -q " $PEER " <<<"$row" || iop_fail "show ipsec sa: peer is not $SITE_B_OUT[4500]: $row"
grep -q " INSTALLED " <<<"$row" || iop_fail "show ipsec sa: state is not INSTALLED: $row"
grep -q " TUNNEL-UDP " <<<"$row" || iop_fail "show ipsec sa: mode is not TUNNEL-UDP: $row"
swan=$(swan_child_spis "$NS_SB")	# "IN OUT" of strongSwan: ours reversed
tsu="$(column "$out" SPI_out '^s2s/net ') $(column "$out" SPI_in '^s2s/net ')"
[ -n "$swan" ] && [ "$swan" = "$tsu" ] || iop_fail "show ipsec sa: SPIs (out in) '$tsu' differ from strongSwan's (in out) '$swan'"
life=$(column "$out" Life '^s2s/net ')
[[ "$life" =~ ^[0-9]+/[0-9]+$ ]] && [ "${life#*/}" -le 58593 ] && [ "${life#*/}" -ge 58000 ] ||
	iop_fail "show ipsec sa: lifetime/lifesize not N/58593 KB or a little less: $row"
[ "$(column "$out" Pkts_in '^s2s/net ')" -gt 0 ] && [ "$(column "$out" Pkts_out '^s2s/net ')" -gt 0 ] ||
	iop_fail "show ipsec sa: packet counters not > 0 after the ping: $row"
[ "$(column "$out" Drops '^s2s/net ')" = 0 ] || iop_fail "show ipsec sa: drops after a clean ping: $row"

out=$(show ipsec-detail.out show ipsec sa detail)
grep -q "^CHILD SA net #[0-9]* of IKE SA s2s #[0-9]*, peer $PEER$" <<<"$out" ||
	iop_fail "show ipsec sa detail: no heading line: $out"
[[ "$(field "$out" State)" =~ ^INSTALLED,\ mode\ TUNNEL,\ UDP-encapsulated,\ reqid\ [0-9]+$ ]] ||
	iop_fail "show ipsec sa detail: State line wrong: $out"
[ "$(field "$out" "Local selectors")" = "$NET_A" ] && [ "$(field "$out" "Remote selectors")" = "$NET_B" ] ||
	iop_fail "show ipsec sa detail: selectors wrong: $out"
[ "$(field "$out" Algorithms)" = "AES_GCM_16-256" ] || iop_fail "show ipsec sa detail: algorithms wrong: $out"
[[ "$(field "$out" "Remaining lifetime (s/KB)")" =~ ^[0-9]+/5[0-9]{4},\ rekey\ in\ [0-9]+s$ ]] ||
	iop_fail "show ipsec sa detail: lifetime line wrong: $out"
[[ "$(field "$out" "Packets in")" =~ ^[1-9][0-9]*,\ bytes\ in:\ [1-9] ]] ||
	iop_fail "show ipsec sa detail: no packets in: $out"
[ "$(field "$out" "Drops replay")" = "0, integrity: 0, padding: 0, selector: 0, other: 0" ] ||
	iop_fail "show ipsec sa detail: drops line wrong: $out"
# The same counters as list-sas's (SPIs too), so the view adds nothing of its own.
spi_in=$(xt_first_child_json "$NS_SA" spi-in)
[ -n "$spi_in" ] && [ "$(field "$out" "SPI in" | cut -d, -f1)" = "$spi_in" ] ||
	iop_fail "show ipsec sa detail: SPI in differs from --list-sas --json's $spi_in"

# Filters: by CHILD name, by peer; nothing matching exits 1.
out=$(show ipsec-net.out show ipsec sa net)
grep -q "^s2s/net " <<<"$out" || iop_fail "show ipsec sa net has no row for s2s/net: $out"
out=$(show ike-peer.out show ike sa detail "$SITE_B_OUT")
grep -q "^IKE SA s2s #" <<<"$out" || iop_fail "show ike sa detail $SITE_B_OUT shows no s2s: $out"
tsu_ctl "$NS_SA" show ike sa 192.0.2.99 >"$dir/nomatch.out" 2>&1
[ $? = 1 ] || iop_fail "show ike sa 192.0.2.99 (no such peer) did not exit 1: $(cat "$dir/nomatch.out")"

# --- clear counters ---------------------------------------------------------------------
out=$(show clear-counters.out clear counters)
grep -q "counters cleared" <<<"$out" || iop_fail "clear counters did not say so: $out"
out=$(show ipsec-cleared.out show ipsec sa detail)
[ "$(field "$out" "Packets in")" = "0, bytes in: 0" ] && [ "$(field "$out" "Packets out")" = "0, bytes out: 0" ] ||
	iop_fail "clear counters did not zero the CHILD SA's counters: $out"
[ "$(tsu_counter "$NS_SA" esp-acquires)" = 0 ] || iop_fail "clear counters did not zero the daemon's counters"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b after clear counters"
out=$(show ipsec-again.out show ipsec sa detail)
[[ "$(field "$out" "Packets in")" =~ ^[1-9] ]] || iop_fail "the counters do not count again after clear counters: $out"

# --- clear ipsec sa CONN, refresh CONN --------------------------------------------------
out=$(show clear-ipsec.out clear ipsec sa s2s)
grep -q "^cleared CHILD SA net #[0-9]* of IKE SA s2s" <<<"$out" || iop_fail "clear ipsec sa s2s: $out"
iop_wait 5 eval '[ "$(tsu_child_count "$NS_SA")" = 0 ] && [ "$(swan_child_count "$NS_SB")" = 0 ]' ||
	iop_fail "clear ipsec sa s2s: CHILD SA still there (tsunagid $(tsu_child_count "$NS_SA"), strongSwan $(swan_child_count "$NS_SB"))"
[ "$(tsu_ike_count "$NS_SA")" = 1 ] || iop_fail "clear ipsec sa took the IKE SA down too"
out=$(show ipsec-none.out show ipsec sa)
[ "$(wc -l <<<"$out")" = 1 ] || iop_fail "show ipsec sa after the clear shows more than its header: $out"
traffic_brings_back "after clear ipsec sa"

out=$(show clear-child.out clear ipsec sa net)
grep -q "^cleared CHILD SA net #[0-9]* of IKE SA s2s" <<<"$out" || iop_fail "clear ipsec sa net: $out"
iop_wait 5 eval '[ "$(tsu_child_count "$NS_SA")" = 0 ]' || iop_fail "clear ipsec sa net: CHILD SA still there"
out=$(show refresh.out refresh s2s)
grep -q "s2s/net is up" <<<"$out" || iop_fail "refresh s2s did not bring net up: $out"
iop_wait 5 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "after refresh: not one matching IKE+CHILD SA on both ends"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b after refresh"
out=$(show refresh-again.out refresh s2s)
grep -q "already up" <<<"$out" || iop_fail "refresh of an up connection did not say 'already up': $out"
[ "$(tsu_child_count "$NS_SA")" = 1 ] || iop_fail "refresh of an up connection made a second CHILD SA"

# --- clear ike sa PEER ------------------------------------------------------------------
out=$(show clear-ike.out clear ike sa "$SITE_B_OUT")
grep -q "^cleared IKE SA s2s #[0-9]*, peer $PEER" <<<"$out" || iop_fail "clear ike sa $SITE_B_OUT: $out"
iop_wait 5 sa_none "$NS_SB" "$NS_SA" || iop_fail "clear ike sa: SAs left (tsunagid $(tsu_ike_count "$NS_SA"), strongSwan $(swan_ike_count "$NS_SB"))"
out=$(show ike-none.out show ike sa)
[ "$(wc -l <<<"$out")" = 1 ] || iop_fail "show ike sa with no SA shows more than its header: $out"
out=$(show clear-none.out clear ike sa)
grep -q "^no IKE SAs$" <<<"$out" || iop_fail "clear ike sa with no SA: $out"
traffic_brings_back "after clear ike sa"

# --- bad words --------------------------------------------------------------------------
for args in "show" "show ike" "show ike sa detail x y" "show crypto" "clear" "clear ike" \
	"clear counters a b" "refresh" "refresh a b" "frobnicate" "--list-sas extra"; do
	# shellcheck disable=SC2086
	tsu_ctl "$NS_SA" $args >"$dir/usage.out" 2>&1
	rc=$?
	[ $rc = 2 ] || iop_fail "tsunagictl $args exited $rc, not 2"
	grep -q "^usage: tsunagictl" "$dir/usage.out" || iop_fail "tsunagictl $args printed no usage"
done
tsu_ctl "$NS_SA" clear ike sa nosuch >"$dir/nosuch.out" 2>&1
[ $? = 1 ] && grep -q "no IKE SA matches 'nosuch'" "$dir/nosuch.out" ||
	iop_fail "clear ike sa nosuch: not exit 1 with 'no IKE SA matches': $(cat "$dir/nosuch.out")"
tsu_ctl "$NS_SA" refresh nosuch >"$dir/nosuch.out" 2>&1
[ $? = 1 ] || iop_fail "refresh nosuch did not exit 1: $(cat "$dir/nosuch.out")"

# --- --log-format json: every line one object, the SA fields where lines name SAs ------
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
out=$(python3 - "$dir/tsunagid.log" <<'EOF' 2>&1
import json, sys
n = conn = child = est = inst = 0
for i, raw in enumerate(open(sys.argv[1], 'rb'), 1):
    try:
        o = json.loads(raw.decode('utf-8'))
    except Exception as e:
        sys.exit("line %d is not JSON (%s): %r" % (i, e, raw[:200]))
    if not isinstance(o, dict) or not {'time', 'level', 'subsystem', 'message'} <= o.keys():
        sys.exit("line %d lacks time/level/subsystem/message: %r" % (i, raw[:200]))
    n += 1
    conn += o.get('connection') == 's2s'
    child += o.get('child') == 'net'
    est += o.get('state') == 'ESTABLISHED' and 'ike_sa' in o
    inst += o.get('child_state') == 'INSTALLED' and 'child_sa' in o
    if ('state' in o and 'ike_sa' not in o) or ('child_state' in o and 'child_sa' not in o):
        sys.exit("line %d has a state but names no such SA: %r" % (i, raw[:200]))
if n < 10 or not conn or not child or not est or not inst:
    sys.exit("%d lines, %d with connection s2s, %d with child net, %d with state ESTABLISHED, "
             "%d with child_state INSTALLED" % (n, conn, child, est, inst))
print("%d JSON lines, %d with connection s2s, %d with child net, %d with state ESTABLISHED, "
      "%d with child_state INSTALLED" % (n, conn, child, est, inst))
EOF
) || iop_fail "tsunagid --log-format json: $out"
echo "    $out" >&2
iop_pass
