#!/bin/bash
# Traffic selectors that do not fit, both ways round (IKE proposals, ids and PSK match):
#   responder: strongSwan (site-a) proposes 10.1.0.0/24 === 10.9.0.0/24 to tsunagid (site-b),
#              which has 10.2.0.0/24 === 10.1.0.0/24: tsunagid answers TS_UNACCEPTABLE and
#              logs both the proposed and its configured selectors;
#   initiator: tsunagid (site-a) proposes 10.1.0.0/24 === 10.9.0.0/24 to strongSwan
#              (site-b, 10.2.0.0/24 === 10.1.0.0/24), which answers TS_UNACCEPTABLE;
#              tsunagid logs the notify with the selectors it had proposed.
# The IKE SA may stay up; no CHILD_SA on either end; the hosts cannot reach each other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ts-mismatch
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
BAD_NET=10.9.0.0/24

topo_build nat

# Case 1: tsunagid responds.
iop_note "case responder"
tsu_conf "$NS_SB" b
tsu_start "$NS_SB"
swan_prepare "$NS_SA"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a REMOTE_TS=$BAD_NET
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
iop_wait 15 swan_log_has "$NS_SA" "received TS_UNACCEPTABLE notify" ||
	iop_fail "responder: strongSwan never received TS_UNACCEPTABLE from tsunagid"
xt_no_child "$NS_SA" "$NS_SB" responder
# "traffic selectors 10.1.0.0/24 === 10.9.0.0/24 (peer's view) unacceptable for CHILD_SA
# 'net' configured 10.1.0.0/24 === 10.2.0.0/24; sending TS_UNACCEPTABLE"
tsu_log_has "$NS_SB" "TS_UNACCEPTABLE" ||
	iop_fail "responder: tsunagid's log does not mention TS_UNACCEPTABLE"
tsu_log_has "$NS_SB" "10\.1\.0\.0/24 === 10\.9\.0\.0/24.*unacceptable" ||
	iop_fail "responder: tsunagid's log does not print the proposed selectors 10.1.0.0/24 === 10.9.0.0/24"
tsu_log_has "$NS_SB" "unacceptable.*'net'.*10\.1\.0\.0/24 === 10\.2\.0\.0/24" ||
	iop_fail "responder: tsunagid's log does not print its configured selectors (10.1.0.0/24 === 10.2.0.0/24)"
tsu_log_has "$NS_SB" "CHILD_SA net\{[0-9]+\} established" &&
	iop_fail "responder: tsunagid logged an established CHILD_SA"
xt_check_sanitizers
iop_stop_gateways "$NS_SA" "$NS_SB"

# Case 2: tsunagid initiates.
iop_note "case initiator"
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start REMOTE_TS=$BAD_NET
tsu_start "$NS_SA"
iop_wait 15 swan_log_has "$NS_SB" "(traffic selectors .* unacceptable|no acceptable traffic selectors)" ||
	iop_fail "initiator: strongSwan never rejected tsunagid's traffic selectors"
iop_wait 10 tsu_log_has "$NS_SA" "TS_UNACCEPTABLE" ||
	iop_fail "initiator: tsunagid's log does not mention the TS_UNACCEPTABLE notify"
tsu_log_has "$NS_SA" "TS_UNACCEPTABLE.*10\.1\.0\.0/24 === 10\.9\.0\.0/24" ||
	iop_fail "initiator: tsunagid's log does not print the selectors it proposed"
xt_no_child "$NS_SB" "$NS_SA" initiator
tsu_log_has "$NS_SA" "CHILD_SA net\{[0-9]+\} established" &&
	iop_fail "initiator: tsunagid logged an established CHILD_SA"
xt_check_sanitizers
iop_pass
