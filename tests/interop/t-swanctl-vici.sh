#!/bin/bash
# strongSwan's own swanctl drives tsunagid over tsunagid's VICI socket. tsunagid (site-a,
# behind the NAT) starts with no connection; swanctl (inside site-a's namespace) loads a
# swanctl.conf (connection + secret) with --load-all --file, lists it, initiates the
# CHILD_SA to strongSwan at site-b, lists the SAs (ESTABLISHED/INSTALLED, the algorithms),
# host-a pings host-b, tsunagictl --sad/--spd print the SAs and policies, --stats and
# --counters answer, and --terminate --ike takes the SA down on both ends (strongSwan
# receives the DELETE). The engine's policy-routing rule (xt_tsu_rule) is in site-a's
# namespace only while the tunnel is up: not after the start (one left by a killed
# tsunagid is removed), not after the terminate;
# a second initiate brings it back with the route, and host-a pings host-b again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin swanctl-vici
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"

# tsunagid with nothing but its own section.
dir=$(tsu_dir "$NS_SA")
mkdir -p "$dir"
printf 'tsunagi {\n\ttun = %s\n}\n' "tsa$$" >"$dir/tsunagi.conf"
TSU_TUN_A=tsa$$
# The rule a tsunagid killed outright would leave: the next one removes it at start.
ip -n "$NS_SA" rule add not fwmark 0x2200/0x2200 lookup 220 pref 220
xt_tsu_rule "$NS_SA" || iop_fail "xt_tsu_rule does not see the rule: $(ip -n "$NS_SA" rule show)"
tsu_start "$NS_SA"
xt_tsu_rule "$NS_SA" && iop_fail "the routing rule is in place with no tunnel: $(ip -n "$NS_SA" rule show)"

# swanctl's own directory (credential subdirectories empty) and configuration.
sdir=$IOP_WORK/swanctl-a
mkdir -p "$sdir"/{conf.d,x509,x509ca,x509aa,x509ac,x509crl,x509ocsp,private,rsa,ecdsa,bliss,pkcs8,pkcs12,pubkey}
s2s_conf "$sdir/swanctl.conf" a
uri=$(tsu_uri "$NS_SA")
sctl() {
	local cmd=$1; shift
	SWANCTL_DIR=$sdir timeout 20 ip netns exec "$NS_SA" swanctl "$cmd" --uri "$uri" "$@"
}

out=$(sctl --load-all --file "$sdir/swanctl.conf" 2>&1) ||
	iop_fail "swanctl --load-all failed: $out"
grep -q "loaded ike secret 'ike-s2s'" <<<"$out" || iop_fail "swanctl did not load the secret: $out"
grep -q "loaded connection 's2s'" <<<"$out" || iop_fail "swanctl did not load the connection: $out"
grep -Eq "successfully loaded 1 connections, 0 unloaded" <<<"$out" ||
	iop_fail "swanctl --load-all did not report 1 connection: $out"

out=$(sctl --list-conns 2>&1) || iop_fail "swanctl --list-conns failed: $out"
grep -q "^s2s: IKEv2" <<<"$out" || iop_fail "swanctl --list-conns does not show s2s: $out"
grep -q "net: TUNNEL" <<<"$out" || iop_fail "swanctl --list-conns does not show child net: $out"
grep -A3 "net: TUNNEL" <<<"$out" | grep -Eq "local: +$NET_A" && grep -A3 "net: TUNNEL" <<<"$out" | grep -Eq "remote: +$NET_B" ||
	iop_fail "swanctl --list-conns does not show the selectors: $out"

out=$(sctl --initiate --child net --ike s2s --timeout 15 2>&1) || iop_fail "swanctl --initiate failed: $out"
grep -q "initiate completed successfully" <<<"$out" || iop_fail "swanctl --initiate did not succeed: $out"

out=$(sctl --list-sas 2>&1) || iop_fail "swanctl --list-sas failed: $out"
echo "$out" >"$IOP_WORK/list-sas.swanctl"
grep -q "ESTABLISHED" <<<"$out" || iop_fail "swanctl --list-sas: no ESTABLISHED IKE SA: $out"
grep -q "INSTALLED" <<<"$out" || iop_fail "swanctl --list-sas: no INSTALLED CHILD_SA: $out"
grep -q "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519" <<<"$out" ||
	iop_fail "swanctl --list-sas does not show the IKE algorithms: $out"
grep -Eq "ESP:AES_GCM_16-256|AES_GCM_16-256" <<<"$(grep -A1 INSTALLED <<<"$out")" ||
	iop_fail "swanctl --list-sas does not show the ESP algorithm: $out"
grep -q "$SITE_B_OUT\[4500\]" <<<"$out" || iop_fail "swanctl --list-sas does not show the peer at port 4500: $out"
swan_wait_sa "$NS_SB" 5 || iop_fail "strongSwan at site-b has no SA after swanctl's initiate"

tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device $TSU_TUN_A"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel"
# tsunagid routed the network itself: its route in table 220 and the rule to that table.
xt_tsu_rule "$NS_SA" || iop_fail "no routing rule with the tunnel up: $(ip -n "$NS_SA" rule show)"
ip -n "$NS_SA" route show table 220 | grep -q "^$NET_B dev $TSU_TUN_A" ||
	iop_fail "no route to $NET_B in table 220: $(ip -n "$NS_SA" route show table 220)"

# The SPIs strongSwan uses must be in tsunagid's SAD, and the policies in its SPD.
spi_in=$(xt_first_child_json "$NS_SA" spi-in) spi_out=$(xt_first_child_json "$NS_SA" spi-out)
[ -n "$spi_in" ] && [ -n "$spi_out" ] || iop_fail "tsunagictl --list-sas --json has no SPIs"
sad=$(tsu_ctl "$NS_SA" --sad 2>&1) || iop_fail "tsunagictl --sad failed: $sad"
echo "$sad" >"$IOP_WORK/sad.out"
grep -q "spi=[0-9]*(0x$spi_in)" <<<"$sad" || iop_fail "tsunagictl --sad lacks the inbound SA 0x$spi_in: $sad"
grep -q "spi=[0-9]*(0x$spi_out)" <<<"$sad" || iop_fail "tsunagictl --sad lacks the outbound SA 0x$spi_out: $sad"
grep -q "esp-udp mode=tunnel" <<<"$sad" || iop_fail "tsunagictl --sad does not show esp-udp tunnel SAs: $sad"
grep -q "^$SITE_A_OUT\[4500\] $SITE_B_OUT\[4500\]" <<<"$sad" ||
	iop_fail "tsunagictl --sad lacks the outbound SA's endpoints: $sad"
grep -qi "aes-gcm" <<<"$sad" || iop_fail "tsunagictl --sad does not name the algorithm: $sad"
swan_list_sas "$NS_SB" | grep -q "$spi_in" || iop_fail "strongSwan does not know tsunagid's inbound SPI $spi_in"
spd=$(tsu_ctl "$NS_SA" --spd 2>&1) || iop_fail "tsunagictl --spd failed: $spd"
echo "$spd" >"$IOP_WORK/spd.out"
grep -A1 "^$NET_A\[any\] $NET_B\[any\]" <<<"$spd" | grep -q "out" ||
	iop_fail "tsunagictl --spd lacks the outbound policy $NET_A -> $NET_B: $spd"
grep -A1 "^$NET_B\[any\] $NET_A\[any\]" <<<"$spd" | grep -q "in" ||
	iop_fail "tsunagictl --spd lacks the inbound policy $NET_B -> $NET_A: $spd"
grep -q "esp/tunnel/$SITE_A_OUT-$SITE_B_OUT" <<<"$spd" ||
	iop_fail "tsunagictl --spd does not show the tunnel endpoints: $spd"

out=$(sctl --stats 2>&1) || iop_fail "swanctl --stats failed: $out"
grep -q "uptime:" <<<"$out" && grep -q "IKE_SAs: 1 total" <<<"$out" ||
	iop_fail "swanctl --stats does not show uptime and 1 IKE SA: $out"
out=$(sctl --counters 2>&1) || iop_fail "swanctl --counters failed: $out"
grep -Eq "ike-rx|ike-tx|invalid|established" <<<"$out" || iop_fail "swanctl --counters shows no counters: $out"

out=$(sctl --terminate --ike s2s --timeout 10 2>&1) || iop_fail "swanctl --terminate failed: $out"
grep -q "terminate completed successfully" <<<"$out" || iop_fail "swanctl --terminate did not succeed: $out"
iop_wait 5 xt_tsu_no_sa "$NS_SA" || iop_fail "tsunagid still lists an SA after terminate: $(tsu_ctl "$NS_SA" --list-sas)"
iop_wait 5 xt_swan_no_ike_sa "$NS_SB" || iop_fail "strongSwan at site-b still has an SA after tsunagid's terminate"
swan_log_has "$NS_SB" "received DELETE for IKE_SA" || iop_fail "strongSwan never received the DELETE"
sad=$(tsu_ctl "$NS_SA" --sad 2>&1)
grep -q "spi=" <<<"$sad" && iop_fail "tsunagictl --sad still lists SAs after terminate: $sad"
ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B >/dev/null 2>&1 &&
	iop_fail "host-a still reaches host-b after terminate"
xt_tsu_rule "$NS_SA" && iop_fail "the routing rule is still there after terminate: $(ip -n "$NS_SA" rule show)"
[ -z "$(ip -n "$NS_SA" route show table 220)" ] ||
	iop_fail "table 220 still has routes after terminate: $(ip -n "$NS_SA" route show table 220)"

# The tunnel again: the rule comes back with its route, and traffic takes it.
out=$(sctl --initiate --child net --ike s2s --timeout 15 2>&1) || iop_fail "the second swanctl --initiate failed: $out"
swan_wait_sa "$NS_SB" 5 || iop_fail "strongSwan at site-b has no SA after the second initiate"
xt_tsu_rule "$NS_SA" || iop_fail "no routing rule after the second initiate: $(ip -n "$NS_SA" rule show)"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel brought up again"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
xt_check_sanitizers
iop_pass
