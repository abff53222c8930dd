#!/bin/bash
# ike-scan (Debian's IKEv1 scanner, a third implementation) against a tsunagid
# responder at site-a (`version = 1`, `aggressive = yes`, AES-256/SHA1/MODP 2048), run
# from site-b's namespace. Its output fields are checked, not only its exit status:
#   main:       Main Mode with our transform: "Main Mode Handshake returned", the SA
#               tsunagid chose (Enc=AES KeyLength=256 Hash=SHA1 Auth=PSK Group=14) and
#               the RFC 3947 NAT-T vendor ID echoed; "1 returned handshake".
#   aggressive: --aggressive --id=site-b.example.net (FQDN): "Aggressive Mode Handshake
#               returned" with KeyExchange(256 bytes), Nonce, tsunagid's ID
#               (site-a.example.net) and a 20-byte HASH_R; --pskcrack writes the nine
#               hex fields of RFC 2409's HASH_R, and psk-crack, given the real PSK in
#               its dictionary, finds it: ike-scan's own computation agrees with HASH_R.
#   proposal:   ike-scan's default transforms (DES/3DES, MD5/SHA1, MODP 768/1024), none
#               configured: "Notify message 14 (NO-PROPOSAL-CHOSEN)".
# tsunagictl lists the half-open SAs ike-scan leaves as MM_WAIT_MSG3 and AG_INIT_EXCH;
# tsunagid stays up and drops them at the half-open timeout.
. "$(dirname "$0")/lib.sh"
iop_begin ike-scan
iop_require_tsunagid
iop_require_cmd ike-scan ike-scan
iop_require_cmd psk-crack ike-scan
topo_build direct

tsu_conf "$NS_SA" a START_ACTION=none IKE_PROPOSALS=aes256-sha1-modp2048 ESP_PROPOSALS=aes128-sha1
sed -i 's/^\(\t*\)version = 2$/\1version = 1\n\1aggressive = yes/' "$(tsu_dir "$NS_SA")/tsunagi.conf"
# Default retransmission (4 s) and half-open timeout (30 s): the half-open SAs stay
# long enough to be listed.
tsu_daemon_add "$NS_SA" "log {" "	default = 1" "	ike = 2" "}"
tsu_start "$NS_SA"
work=$(tsu_dir "$NS_SA")

scan() { ip netns exec "$NS_SB" ike-scan --retry=2 --timeout=1000 "$@" "$SITE_A_OUT" 2>&1; }
# sa_ok OUTPUT: the SA printed is the one transform offered (attributes in any order).
sa_ok() {
	local sa
	sa=$(grep -o 'SA=([^)]*)' <<<"$1") || return 1
	for f in Enc=AES KeyLength=256 Hash=SHA1 Auth=PSK Group=14:modp2048 LifeType=Seconds; do
		grep -q "[( ]$f[ )]" <<<"$sa" || return 1
	done
}

# --- Main Mode ---
out=$(scan --trans=7/256,2,1,14 --vendor=4a131c81070358455c5728f20e95452f)
echo "$out" >"$work/ike-scan-main.out"
grep -q "$SITE_A_OUT[[:space:]]Main Mode Handshake returned" <<<"$out" ||
	iop_fail "main: no Main Mode handshake from tsunagid: $out"
sa_ok "$out" || iop_fail "main: ike-scan does not print the SA tsunagid chose: $out"
grep -Eq "VID=4a131c81070358455c5728f20e95452f" <<<"$out" ||
	iop_fail "main: no RFC 3947 NAT-T vendor ID in tsunagid's answer: $out"
grep -q "1 returned handshake; 0 returned notify" <<<"$out" ||
	iop_fail "main: ike-scan's summary is not one handshake: $out"
t=$(tsu_list_sas "$NS_SA")
grep -q "MM_WAIT_MSG3" <<<"$t" ||
	iop_fail "main: tsunagictl does not show the half-open SA in MM_WAIT_MSG3: $t"

# --- Aggressive Mode, PSK parameters ---
out=$(scan --aggressive --dhgroup=14 --trans=7/256,2,1,14 --id=site-b.example.net --idtype=2 \
	--pskcrack="$work/psk-params")
echo "$out" >"$work/ike-scan-aggr.out"
grep -q "$SITE_A_OUT[[:space:]]Aggressive Mode Handshake returned" <<<"$out" ||
	iop_fail "aggressive: no Aggressive Mode handshake from tsunagid: $out"
sa_ok "$out" || iop_fail "aggressive: ike-scan does not print the SA tsunagid chose: $out"
grep -q "KeyExchange(256 bytes)" <<<"$out" || iop_fail "aggressive: no 256-byte KE: $out"
grep -Eq "Nonce\([0-9]+ bytes\)" <<<"$out" || iop_fail "aggressive: no nonce: $out"
grep -q "ID(Type=ID_FQDN, Value=site-a.example.net)" <<<"$out" ||
	iop_fail "aggressive: tsunagid's ID is not printed as FQDN site-a.example.net: $out"
grep -q "Hash(20 bytes)" <<<"$out" || iop_fail "aggressive: no 20-byte HASH_R: $out"
t=$(tsu_list_sas "$NS_SA")
grep -q "AG_INIT_EXCH" <<<"$t" ||
	iop_fail "aggressive: tsunagictl does not show the SA waiting for AM3 in AG_INIT_EXCH: $t"
[ -s "$work/psk-params" ] || iop_fail "aggressive: ike-scan wrote no PSK parameters"
fields=$(head -1 "$work/psk-params" | awk -F: '{print NF}')
[ "$fields" = 9 ] || iop_fail "aggressive: PSK parameters have $fields fields, not 9: $(head -c 200 "$work/psk-params")"
grep -Eq '^[0-9a-f]+(:[0-9a-f]+){8}$' "$work/psk-params" ||
	iop_fail "aggressive: PSK parameters are not nine hex fields"
printf 'wrong-guess\n%s\nanother-guess\n' "$PSK_DEFAULT" >"$work/dict"
crack=$(psk-crack -d "$work/dict" "$work/psk-params" 2>&1)
grep -q "key \"$PSK_DEFAULT\" matches SHA1 hash" <<<"$crack" ||
	iop_fail "aggressive: psk-crack does not verify tsunagid's HASH_R with the PSK: $crack"

# --- no acceptable proposal ---
out=$(scan)
echo "$out" >"$work/ike-scan-default.out"
grep -q "Notify message 14 (NO-PROPOSAL-CHOSEN)" <<<"$out" ||
	iop_fail "proposal: tsunagid did not answer NO-PROPOSAL-CHOSEN to ike-scan's defaults: $out"

tsu_alive "$NS_SA" || iop_fail "tsunagid died"
tsu_log_has "$NS_SA" "IKEv1 Aggressive Mode from $SITE_B_OUT.*site-b.example.net" ||
	iop_fail "tsunagid's log does not show the Aggressive Mode request by identity"
# The half-open SAs ike-scan left go at the half-open timeout, the Aggressive Mode
# one naming AG_INIT_EXCH and the likely cause.
iop_wait 40 tsu_log_has "$NS_SA" "no valid AM3 .* in AG_INIT_EXCH" ||
	iop_fail "tsunagid did not give up on the AM3 that ike-scan never sends"
no_sas() { [ "$(tsu_ike_count "$NS_SA")" = 0 ]; }
iop_wait 45 no_sas || iop_fail "tsunagid keeps $(tsu_ike_count "$NS_SA") half-open SAs from ike-scan"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
