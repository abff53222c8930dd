#!/bin/bash
# Identity mismatches between tsunagid and strongSwan (the PSK is right in every case):
#   responder-idi: strongSwan (site-a) identifies as an id tsunagid (site-b) does not expect;
#   responder-idr: strongSwan asks for a remote id (IDr) that tsunagid does not use;
#   initiator-idi: strongSwan (site-b) expects a remote id tsunagid (site-a) does not use;
#   initiator-idr: tsunagid expects (and asks for) a remote id strongSwan does not use.
# Each ends in AUTHENTICATION_FAILED with no CHILD_SA on either side. As the responder,
# tsunagid must log an identity mismatch naming the id (and no PSK mismatch). As the
# initiator, strongSwan is the one that rejects (it echoes a requested IDr it accepts, so
# tsunagid never sees a wrong IDr): strongSwan must log that no peer config matches the
# ids, and tsunagid that the peer rejected its identity.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin wrong-id
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
PSK_RE='probable pre-shared key mismatch|pre-?shared key.*(did not|does not) match'

topo_build nat

# responder_case NAME SWAN_KEY=VALUE... -- TSU_LOG_REGEX
responder_case() {
	local name=$1 args=() re
	shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	re=$2
	iop_note "case $name"
	tsu_conf "$NS_SB" b
	tsu_start "$NS_SB"
	swan_prepare "$NS_SA"
	s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a "${args[@]}"
	swan_start "$NS_SA"; swan_load "$NS_SA"
	swan_initiate "$NS_SA" net
	iop_wait 15 swan_log_has "$NS_SA" "received AUTHENTICATION_FAILED notify" ||
		iop_fail "$name: strongSwan never received AUTHENTICATION_FAILED from tsunagid"
	xt_no_child "$NS_SA" "$NS_SB" "$name"
	tsu_log_has "$NS_SB" "identity mismatch.*$re" ||
		iop_fail "$name: tsunagid's log does not report the identity mismatch (/identity mismatch.*$re/)"
	tsu_log_has "$NS_SB" "$PSK_RE" &&
		iop_fail "$name: tsunagid blames the pre-shared key although only the identity is wrong"
	tsu_log_has "$NS_SB" "sending AUTHENTICATION_FAILED" ||
		iop_fail "$name: tsunagid's log does not say it sent AUTHENTICATION_FAILED"
	iop_wait 5 xt_tsu_no_sa "$NS_SB" || iop_fail "$name: tsunagid keeps an SA: $(tsu_ctl "$NS_SB" --list-sas | head -3)"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# initiator_case NAME SWAN_KEY=VALUE... -- TSU_KEY=VALUE... -- SWAN_LOG_REGEX
initiator_case() {
	local name=$1 sargs=() targs=() re
	shift
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do targs+=("$1"); shift; done
	re=$2
	iop_note "case $name"
	swan_prepare "$NS_SB"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b "${sargs[@]}"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a START_ACTION=start "${targs[@]}"
	tsu_start "$NS_SA"
	iop_wait 15 swan_log_has "$NS_SB" "no matching peer config found" ||
		iop_fail "$name: strongSwan did not reject tsunagid's identities"
	swan_log_has "$NS_SB" "$re" ||
		iop_fail "$name: strongSwan did not look up the ids tsunagid sent (/$re/)"
	iop_wait 10 tsu_log_has "$NS_SA" "AUTHENTICATION_FAILED" ||
		iop_fail "$name: tsunagid's log does not mention the AUTHENTICATION_FAILED notify"
	tsu_log_has "$NS_SA" "rejected our identity 'site-a\.example\.net'" ||
		iop_fail "$name: tsunagid's log does not name the identity the peer rejected"
	tsu_log_has "$NS_SA" "$PSK_RE" &&
		iop_fail "$name: tsunagid claims a pre-shared key mismatch it cannot know"
	xt_no_child "$NS_SB" "$NS_SA" "$name"
	iop_wait 5 xt_tsu_no_sa "$NS_SA" || iop_fail "$name: tsunagid keeps an SA: $(tsu_ctl "$NS_SA" --list-sas | head -3)"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

responder_case responder-idi LOCAL_ID=intruder.example.net -- \
	"peer identifies as 'intruder\.example\.net'.*expects 'site-a\.example\.net'"
responder_case responder-idr REMOTE_ID=other-gw.example.net -- \
	"wants to talk to 'other-gw\.example\.net', we are 'site-b\.example\.net'"
# strongSwan's lookup line: "looking for peer configs matching ME[IDr]...PEER[IDi]".
initiator_case initiator-idi REMOTE_ID=someone-else.example.net -- -- \
	"peer configs matching .*\[site-b\.example\.net\]\.\.\..*\[site-a\.example\.net\]"
initiator_case initiator-idr -- REMOTE_ID=other-gw.example.net -- \
	"peer configs matching .*\[other-gw\.example\.net\]\.\.\..*\[site-a\.example\.net\]"
xt_check_sanitizers
iop_pass
