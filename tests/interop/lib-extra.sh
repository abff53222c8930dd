# tests/interop/lib-extra.sh: helpers shared by the negative, control and robustness
# scenarios (t-wrong-id, t-ts-mismatch, t-swanctl-vici, t-tsunagi-pair-nat, t-signals,
# t-bad-input) the certificate ones (t-ikev2-pubkey, t-ikev1-pubkey) and the remote-access ones
# (t-ra-vip, t-ra-nat-clients). Sourced after lib.sh; uses its topology, peers and result functions.

# xt_swan_initiates_to_tsu [TSU_KEY=VALUE...] -- [SWAN_KEY=VALUE...]: the standard tunnel
# with tsunagid responding at site-b and strongSwan initiating from site-a behind the NAT;
# waits until both ends have the CHILD_SA and host-a pings host-b. Fails the scenario
# otherwise. Lines in the array XT_SWAN_CONN go into strongSwan's connection section.
# XT_IKE_VERSION=1 makes both ends IKEv1 (give them IKEv1 proposals).
XT_SWAN_CONN=()
XT_IKE_VERSION=2
xt_swan_initiates_to_tsu() {
	local tsu_args=() swan_args=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do tsu_args+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	swan_args=("$@")
	tsu_conf "$NS_SB" b "${tsu_args[@]}"
	sed -i "s/^\t\tversion = 2$/\t\tversion = $XT_IKE_VERSION/" "$(tsu_dir "$NS_SB")/tsunagi.conf"
	tsu_start "$NS_SB"
	swan_prepare "$NS_SA"
	s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a "${swan_args[@]}"
	sed -i "s/^\t\tversion = 2$/\t\tversion = $XT_IKE_VERSION/" "$(swan_dir "$NS_SA")/swanctl.conf"
	[ ${#XT_SWAN_CONN[@]} = 0 ] || conf_conn_add "$(swan_dir "$NS_SA")/swanctl.conf" "${XT_SWAN_CONN[@]}"
	swan_start "$NS_SA"; swan_load "$NS_SA"
	swan_initiate "$NS_SA" net
	swan_wait_sa "$NS_SA" 20 || iop_fail "strongSwan (site-a) has no ESTABLISHED+INSTALLED SA within 20 s"
	iop_wait 5 tsu_child_up "$NS_SB" || iop_fail "tsunagid (site-b) shows no INSTALLED CHILD_SA"
	tsu_ensure_route "$NS_SB" "$TSU_TUN_B" $NET_A || iop_fail "tsunagid created no TUN device $TSU_TUN_B"
	iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b through the tunnel"
}

# xt_no_child SWAN_NS TSU_NS CASE: neither end has a CHILD_SA, host-a cannot reach host-b
# and tsunagid still runs.
xt_no_child() {
	swan_child_up "$1" && iop_fail "$3: strongSwan installed a CHILD_SA"
	tsu_child_up "$2" && iop_fail "$3: tsunagid installed a CHILD_SA: $(tsu_ctl "$2" --list-sas | head -4)"
	ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B >/dev/null 2>&1 &&
		iop_fail "$3: host-a reaches host-b without a CHILD_SA"
	tsu_alive "$2" || iop_fail "$3: tsunagid died"
	return 0
}

# xt_swan_no_ike_sa NS: charon lists no IKE SA at all.
xt_swan_no_ike_sa() {
	local out
	out=$(swan_ctl "$1" --list-sas 2>/dev/null) || return 1
	! grep -Eq 'ESTABLISHED|CONNECTING|INSTALLED|REKEYING|DELETING' <<<"$out"
}

# xt_tsu_rule NS: the ESP engine's policy-routing rule (table 220, priority 220: "not
# fwmark 0x2200/0x2200 lookup 220") is in NS; it is there only while a tunnel routes.
xt_tsu_rule() { ip -n "$1" rule show | grep -Eq '^220:[[:space:]]+not from all fwmark 0x2200/0x2200 lookup 220$'; }

# xt_tsu_no_sa NS: tsunagictl --list-sas shows no SA.
xt_tsu_no_sa() {
	local out
	out=$(tsu_ctl "$1" --list-sas 2>/dev/null) || return 1
	! grep -Eq 'ESTABLISHED|CONNECTING|INSTALLED' <<<"$out"
}

# xt_tsu_log_count NS REGEX: how many lines of tsunagid's log match.
xt_tsu_log_count() { grep -Eic "$2" "$(tsu_dir "$1")/tsunagid.log"; }

# xt_counter NS NAME: a global counter from `tsunagictl --counters` (empty if absent).
xt_counter() {
	tsu_ctl "$1" --counters 2>/dev/null |
		awk -v k="$2:" '$1 == k { print $2; exit }'
}

# xt_json NS PYEXPR ARGS...: evaluates PYEXPR (python3, `j` is the parsed JSON of
# `tsunagictl ARGS --json`) and prints the result.
xt_json() {
	local ns=$1 expr=$2; shift 2
	tsu_ctl "$ns" "$@" --json 2>/dev/null |
		python3 -c "import json,sys
j=json.load(sys.stdin)
print($expr)" 2>/dev/null
}

# xt_first_child_json NS FIELD: a field of the first CHILD_SA of the first IKE SA in
# `tsunagictl --list-sas --json`.
xt_first_child_json() {
	xt_json "$1" "[c for s in j for i in s.values() for c in i['child-sas'].values()][0].get('$2', '')" --list-sas
}

# xt_first_ike_json NS FIELD: a field of the first IKE SA (empty when absent: flags such
# as nat-local are only listed when set).
xt_first_ike_json() {
	xt_json "$1" "[i for s in j for i in s.values()][0].get('$2', '')" --list-sas
}

# xt_py NS SCRIPT ARGS...: runs a python3 script (text) inside NS, bounded to 60 s.
xt_py() {
	local ns=$1 script=$2; shift 2
	timeout 60 ip netns exec "$ns" python3 -c "$script" "$@"
}

# xt_check_sanitizers: fails the scenario when a tsunagid log holds a sanitizer report
# (builds configured with --enable-sanitizers; UBSan reports without stopping the daemon).
xt_check_sanitizers() {
	local f
	for f in "$IOP_WORK"/tsu-*/tsunagid.log; do
		[ -f "$f" ] || continue
		grep -Eq 'runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer' "$f" &&
			iop_fail "sanitizer report in tsunagid's log: $(grep -Em1 'runtime error:|Sanitizer' "$f")"
	done
	return 0
}

# xt_add_child FILE NAME LOCAL_TS REMOTE_TS START_ACTION: a second child in the rendered
# s2s connection of FILE (after the child "net"), with the same ESP proposals.
xt_add_child() {
	local f=$1 esp
	esp=$(sed -n 's/^\t\t\t\tesp_proposals = //p' "$f" | head -1)
	awk -v name="$2" -v l="$3" -v r="$4" -v sa="$5" -v esp="$esp" '
		{ print }
		/^\t\t\t\tstart_action = / { after = 1; next }
		after && /^\t\t\t}$/ {
			printf "\t\t\t%s {\n\t\t\t\tlocal_ts = %s\n\t\t\t\tremote_ts = %s\n", name, l, r
			printf "\t\t\t\tesp_proposals = %s\n\t\t\t\tstart_action = %s\n\t\t\t}\n", esp, sa
			after = 0
		}' "$f" >"$f.new" && mv "$f.new" "$f" || iop_fail "xt_add_child: cannot edit $f"
}

# pk_conf FILE CERT: the PSK s2s config becomes auth = pubkey with CERT (a name in
# x509/) and the test CA as the remote cacerts.
pk_conf() {
	sed -i -e 's/auth = psk/auth = pubkey/' \
		-e "/^\t\tlocal {/a\\\t\t\tcerts = $2.pem" \
		-e "/^\t\tremote {/a\\\t\t\tcacerts = ca.pem" "$1"
}

# pk_files DIR NAME: NAME's certificate and key, and the CA, into DIR's x509/, private/,
# x509ca/ (as swanctl has them beside swanctl.conf); CERTS is mkcerts.sh's directory.
pk_files() {
	mkdir -p "$1"/{x509,x509ca,x509crl,private}
	cp "$CERTS/$2.pem" "$1/x509/"
	cp "$CERTS/$2.key" "$1/private/$2.pem"
	cp "$CERTS/ca.pem" "$1/x509ca/"
}

# xt_rw_client_conf OUT ID: strongSwan as a road warrior (PSK, identity ID) of the gateway
# at site-b, asking for an IPv4 virtual IP, with a child to NET_B; uses PSK and PROPS.
xt_rw_client_conf() {
	cat >"$1" <<-EOF
	connections {
		rw {
			version = 2
			remote_addrs = $SITE_B_OUT
			vips = 0.0.0.0
			proposals = $PROPS
			local {
				auth = psk
				id = $2
			}
			remote {
				auth = psk
				id = gw.example.net
			}
			children {
				net {
					remote_ts = $NET_B
					esp_proposals = aes256gcm16
				}
			}
		}
	}
	secrets {
		ike-rw {
			secret = "$PSK"
		}
	}
	EOF
}

# xt_cases_report: prints each case of $SCEN with its result from RES (an
# associative array: ok, FAIL or "skipped: why"); BAD gets the failed ones.
xt_cases_report() {
	local s
	BAD=""
	for s in $SCEN; do
		printf '    %-10s %s\n' "$s" "${RES[$s]}"
		[ "${RES[$s]}" = FAIL ] && BAD="$BAD $s"
	done
	return 0
}
