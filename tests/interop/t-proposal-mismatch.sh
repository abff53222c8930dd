#!/bin/bash
# Proposal mismatches between tsunagid and strongSwan, one case per row of
# conf/proposal-mismatch.txt, on one topology. IKE-level mismatches end in
# NO_PROPOSAL_CHOSEN in IKE_SA_INIT, ESP-level ones in IKE_AUTH; never a CHILD_SA. As the
# responder, tsunagid's log must list both sides' proposals.
. "$(dirname "$0")/lib.sh"
iop_begin proposal-mismatch
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
matrix=${MATRIX:-$IOP_CONF_DIR/proposal-mismatch.txt}
[ -r "$matrix" ] || iop_fail "no matrix $matrix"

topo_build nat
ncases=0
while read -r -u 3 name role s_ike s_esp t_ike t_esp offered accepted; do
	case "$name" in ''|'#'*) continue ;; esac
	ncases=$((ncases + 1))
	iop_note "case $name ($role)"
	if [ "$role" = responder ]; then
		swan_ns=$NS_SA tsu_ns=$NS_SB
		tsu_conf "$tsu_ns" b IKE_PROPOSALS="$t_ike" ESP_PROPOSALS="$t_esp"
		tsu_start "$tsu_ns"
		swan_prepare "$swan_ns"
		s2s_conf "$(swan_dir "$swan_ns")/swanctl.conf" a IKE_PROPOSALS="$s_ike" ESP_PROPOSALS="$s_esp"
		swan_start "$swan_ns"; swan_load "$swan_ns"
		swan_initiate "$swan_ns" net
		iop_wait 15 swan_log_has "$swan_ns" "received NO_PROPOSAL_CHOSEN notify" ||
			iop_fail "$name: strongSwan never received NO_PROPOSAL_CHOSEN from tsunagid"
		tsu_log_has "$tsu_ns" "$offered" ||
			iop_fail "$name: tsunagid's log does not list the peer's proposal (/$offered/)"
	else
		swan_ns=$NS_SB tsu_ns=$NS_SA
		swan_prepare "$swan_ns"
		s2s_conf "$(swan_dir "$swan_ns")/swanctl.conf" b IKE_PROPOSALS="$s_ike" ESP_PROPOSALS="$s_esp"
		swan_start "$swan_ns"; swan_load "$swan_ns"
		tsu_conf "$tsu_ns" a IKE_PROPOSALS="$t_ike" ESP_PROPOSALS="$t_esp" START_ACTION=start
		tsu_start "$tsu_ns"
		iop_wait 15 swan_log_has "$swan_ns" "(received proposals unacceptable|no acceptable proposal found)" ||
			iop_fail "$name: strongSwan never rejected tsunagid's proposal"
		iop_wait 10 tsu_log_has "$tsu_ns" NO_PROPOSAL_CHOSEN ||
			iop_fail "$name: tsunagid's log does not mention NO_PROPOSAL_CHOSEN"
	fi
	tsu_log_has "$tsu_ns" "$accepted" ||
		iop_fail "$name: tsunagid's log does not list its own proposal (/$accepted/)"
	swan_child_up "$swan_ns" && iop_fail "$name: strongSwan installed a CHILD_SA"
	tsu_child_up "$tsu_ns" && iop_fail "$name: tsunagid installed a CHILD_SA"
	tsu_alive "$tsu_ns" || iop_fail "$name: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
done 3<"$matrix"
[ $ncases -gt 0 ] || iop_fail "no cases in $matrix"
iop_pass
