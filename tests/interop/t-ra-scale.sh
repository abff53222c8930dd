#!/bin/bash
# Remote access at small scale: the load generator (tools/ragen.c, tsunagi's own IKE
# core) brings up 50 IKEv2 clients against tsunagid, from 10 addresses with 5 ports
# each (as clients behind NATs), at most 16 negotiating at once, in UDP encapsulation;
# 10 of them, spread over the addresses, then ping 10.99.0.1 behind the gateway from
# their virtual IP through their CHILD_SA (tsunagi's ESP transform in ragen). Then ten
# clients against a pool of six: the four left over fail with a clear reason. All 50 must come up (each with its own IKE SA
# and CHILD_SA), and tsunagid's own view must agree: 50 IKE SAs and 50 CHILD_SAs in
# tsunagictl --list-sas and in --stats.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-ra.sh"
iop_begin ra-scale
iop_require_tsunagid
[ -x "$BUILD/ragen" ] || iop_fail "ragen not built in $BUILD"
N=50 K=10

ra_topo $K
ra_tsu_conf
tsu_start "$NS_GW"
out=$IOP_WORK/ragen.out
iop_register_log ragen "$out"
ip netns exec "$NS_CL" timeout 90 "$BUILD/ragen" --server $RA_GW --src $RA_FIRST \
	--src-count $K -n $N --window 16 --remote-ts $RA_NET --psk $RA_PSK --timeout 60 \
	--client-timeout 20 --hold 60 --vip --encap --ping 10 --ping-dst 10.99.0.1 >"$out" 2>&1 &
gen=$!
iop_wait 70 grep -q '^ragen-ping:' "$out" || iop_fail "ragen did not finish within 70 s"
grep -q "^ragen-result: clients=$N up=$N failed=0 .* vips=$N\$" "$out" ||
	iop_fail "not all clients came up: $(grep '^ragen' "$out" | tr '\n' ' ')"
# Ten tunnels, five clients per address: each echo from a client's virtual IP came back
# through its own CHILD_SA (a reply sent through another client's SA on the same
# address is dropped by that client).
grep -q '^ragen-ping: sampled=10 answered=10$' "$out" ||
	iop_fail "pings through the tunnels: $(grep '^ragen-ping' "$out")"
# While ragen holds its SAs: tsunagid's count must agree.
ike=$(tsu_ike_count "$NS_GW") child=$(tsu_child_count "$NS_GW")
[ "$ike" = $N ] && [ "$child" = $N ] ||
	iop_fail "tsunagictl --list-sas shows $ike IKE SAs and $child CHILD_SAs, not $N"
stats=$(tsu_ctl "$NS_GW" --stats --pretty 2>/dev/null)
grep -A1 'ikesas {' <<<"$stats" | grep -q "total = $N\$" || iop_fail "tsunagictl --stats disagrees: $(tr '\n' ' ' <<<"$stats")"
# Every client's own address and NAT-T port appear as a peer.
peers=$(tsu_ctl "$NS_GW" --list-sas 2>/dev/null | grep -o '203\.0\.113\.[0-9]*\[2000[0-9]\]' | sort -u | wc -l)
[ "$peers" = $N ] || iop_fail "tsunagid lists $peers distinct client address:port pairs, not $N"
# Each CHILD_SA's remote selector is that client's own virtual IP.
vips=$(tsu_ctl "$NS_GW" --list-sas 2>/dev/null | grep -o '=== 10\.98\.[0-9.]*/32' | sort -u | wc -l)
[ "$vips" = $N ] || iop_fail "tsunagid's CHILD_SAs lead to $vips distinct virtual IPs, not $N"
kill -TERM $gen 2>/dev/null
wait $gen
# ragen's DELETEs end every SA on tsunagid.
iop_wait 10 eval '[ "$(tsu_ike_count "$NS_GW")" = 0 ]' ||
	iop_fail "$(tsu_ike_count "$NS_GW") IKE SAs left on tsunagid after the clients' DELETEs"
tsu_alive "$NS_GW" || iop_fail "tsunagid died"

# A pool of six addresses (10.98.0.0/29) and ten clients: six come up, four fail with
# the gateway's FAILED_CP_REQUIRED as their reason, and the six keep their SAs.
iop_stop_gateways "$NS_GW"
RA_POOL=10.98.0.0/29
ra_tsu_conf
tsu_start "$NS_GW"
out=$IOP_WORK/ragen-pool.out
iop_register_log "ragen (small pool)" "$out"
ip netns exec "$NS_CL" timeout 60 "$BUILD/ragen" --server $RA_GW --src $RA_FIRST \
	--src-count $K -n 10 --window 4 --remote-ts $RA_NET --psk $RA_PSK --timeout 30 \
	--client-timeout 10 --hold 30 --vip >"$out" 2>&1 &
gen=$!
iop_wait 40 grep -q '^ragen-result:' "$out" || iop_fail "ragen (small pool) did not finish"
grep -q '^ragen-result: clients=10 up=6 failed=4 .* vips=6$' "$out" ||
	iop_fail "small pool: $(grep '^ragen' "$out" | tr '\n' ' ')"
grep -q '^ragen: failed 4: .*FAILED_CP_REQUIRED' "$out" ||
	iop_fail "small pool: the failures do not name FAILED_CP_REQUIRED: $(grep '^ragen: failed' "$out")"
[ "$(tsu_ike_count "$NS_GW")" = 6 ] && [ "$(tsu_child_count "$NS_GW")" = 6 ] ||
	iop_fail "small pool: tsunagid lists $(tsu_ike_count "$NS_GW") IKE SAs, not the 6 with an address"
kill -TERM $gen 2>/dev/null
wait $gen
tsu_alive "$NS_GW" || iop_fail "tsunagid died"
iop_pass
