#!/bin/bash
# PFS for CHILD_SA rekeys, tsunagid at site-a (behind the NAT) and strongSwan at site-b:
#   on:  both sides esp_proposals with MODP_2048 (the IKE SA uses CURVE_25519, so the
#        group shown is the ESP one); tsunagictl --rekey --child gives new SPIs on both
#        ends, swanctl shows ESP:AES_GCM_16-256/MODP_2048, tsunagictl dh-group MODP_2048,
#        and the new SA carries pings;
#   off: no group on either side: new SPIs, swanctl shows ESP:AES_GCM_16-256 alone;
#   mismatch, tsunagid requires ECP_256: its rekey is refused (NO_PROPOSAL_CHOSEN) and
#        its log names its proposal with ECP_256; the old CHILD_SA stays on both ends;
#   mismatch, strongSwan requires ECP_256: swanctl --rekey is refused by tsunagid, whose
#        log names the peer's ECP_256 proposal and its own one without a group.
. "$(dirname "$0")/lib.sh"
iop_begin pfs
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat

# up CASE: waits for the SA pair and a ping; prints tsunagid's CHILD_SA SPIs.
up() {
	iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$1: no single matching IKE+CHILD SA on both ends"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$1: no TUN device"
	iop_ping "$NS_HA" $HOST_B 2 || iop_fail "$1: no ping through the first CHILD_SA"
}

# rekey_ok CASE ESP_SHOWN DH: tsunagid rekeys the CHILD_SA; both ends must end with one
# CHILD_SA under new SPIs showing ESP_SHOWN (and dh-group DH, or none) and carry pings.
rekey_ok() {
	local c=$1 esp=$2 dh=$3 old s t
	old=$(tsu_child_spis "$NS_SA")
	tsu_ctl "$NS_SA" --rekey --child net >"$IOP_WORK/rekey-$c.out" 2>&1 ||
		iop_fail "$c: tsunagictl --rekey failed: $(tail -2 "$IOP_WORK/rekey-$c.out")"
	iop_wait 10 child_rekeyed "$NS_SB" "$NS_SA" "$old" ||
		iop_fail "$c: no single CHILD_SA with new SPIs on both ends after the rekey (old $old): $(tsu_child_spis "$NS_SA") / $(swan_child_spis "$NS_SB")"
	s=$(swan_list_sas "$NS_SB")
	grep -q ", ESP:$esp\$" <<<"$s" ||
		iop_fail "$c: swanctl shows $(grep -o 'ESP:.*' <<<"$s" | tail -1), expected ESP:$esp"
	t=$(tsu_ctl "$NS_SA" --list-sas --pretty 2>&1)
	# The IKE SA's dh-group is indented by 4, the CHILD_SA's by 8.
	if [ -n "$dh" ]; then
		grep -q "^        dh-group = $dh\$" <<<"$t" ||
			iop_fail "$c: tsunagictl does not show the CHILD_SA's dh-group $dh: $(grep dh-group <<<"$t" | tr '\n' ' ')"
	else
		grep -q "^        dh-group" <<<"$t" &&
			iop_fail "$c: tsunagictl shows a dh-group for a CHILD_SA without PFS"
	fi
	iop_ping "$NS_HA" $HOST_B 2 || iop_fail "$c: no ping through the rekeyed CHILD_SA"
	iop_note "$c: rekeyed $old -> $(tsu_child_spis "$NS_SA")"
}

# still_old CASE OLD: the refused rekey left the old CHILD_SA alone on both ends.
still_old() {
	if ! sa_pair_ok "$NS_SB" "$NS_SA" || [ "$(tsu_child_spis "$NS_SA")" != "$2" ]; then
		iop_fail "$1: the CHILD_SA changed after a refused rekey: $(tsu_child_spis "$NS_SA") / $(swan_child_spis "$NS_SB") (was $2)"
	fi
	tsu_alive "$NS_SA" || iop_fail "$1: tsunagid died"
	iop_ping "$NS_HA" $HOST_B 1 || iop_fail "$1: no ping through the old CHILD_SA after the refused rekey"
}

# 1. PFS on.
pair_start_tsu_initiator ESP_PROPOSALS=aes256gcm16-modp2048 -- ESP_PROPOSALS=aes256gcm16-modp2048
up pfs-on
rekey_ok pfs-on AES_GCM_16-256/MODP_2048 MODP_2048
tsu_log_has "$NS_SA" "rekeying CHILD_SA" || iop_fail "pfs-on: tsunagid's log shows no rekey"
swan_log_has "$NS_SB" "selected proposal: ESP:AES_GCM_16_256/MODP_2048" ||
	iop_fail "pfs-on: strongSwan did not select a proposal with MODP_2048"
iop_stop_gateways "$NS_SA" "$NS_SB"

# 2. PFS off.
pair_start_tsu_initiator ESP_PROPOSALS=aes256gcm16 -- ESP_PROPOSALS=aes256gcm16
up pfs-off
rekey_ok pfs-off AES_GCM_16-256 ""
iop_stop_gateways "$NS_SA" "$NS_SB"

# 3. tsunagid requires a group, strongSwan has none; tsunagid rekeys.
pair_start_tsu_initiator ESP_PROPOSALS=aes256gcm16-ecp256 -- ESP_PROPOSALS=aes256gcm16
up mismatch-tsu
old=$(tsu_child_spis "$NS_SA")
tsu_ctl "$NS_SA" --rekey --child net >"$IOP_WORK/rekey-mismatch-tsu.out" 2>&1
iop_wait 10 swan_log_has "$NS_SB" "no acceptable (KEY_EXCHANGE_METHOD|DIFFIE_HELLMAN_GROUP|proposal)" ||
	iop_fail "mismatch-tsu: strongSwan did not refuse the rekey"
iop_wait 5 tsu_log_has "$NS_SA" "NO_PROPOSAL_CHOSEN.*ECP_256" ||
	iop_fail "mismatch-tsu: tsunagid's log does not name NO_PROPOSAL_CHOSEN and its ECP_256 proposal"
still_old mismatch-tsu "$old"
iop_stop_gateways "$NS_SA" "$NS_SB"

# 4. strongSwan requires a group, tsunagid has none; strongSwan rekeys.
pair_start_tsu_initiator ESP_PROPOSALS=aes256gcm16 -- ESP_PROPOSALS=aes256gcm16-ecp256
up mismatch-swan
old=$(tsu_child_spis "$NS_SA")
swan_ctl "$NS_SB" --rekey --child net >"$IOP_WORK/rekey-mismatch-swan.out" 2>&1
iop_wait 10 swan_log_has "$NS_SB" "received NO_PROPOSAL_CHOSEN" ||
	iop_fail "mismatch-swan: tsunagid did not answer NO_PROPOSAL_CHOSEN to strongSwan's rekey"
tsu_log_has "$NS_SA" "offered[^;]*ECP_256.*accepts ESP:AES_GCM_16_256/NO_EXT_SEQ" ||
	iop_fail "mismatch-swan: tsunagid's log does not name the peer's ECP_256 proposal and its own one without a group"
still_old mismatch-swan "$old"
iop_pass
