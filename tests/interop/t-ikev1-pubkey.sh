#!/bin/bash
# IKEv1 Main Mode with signatures (auth = pubkey, version = 1) between tsunagid
# (site-a) and strongSwan (site-b), certificates made now by mkcerts.sh: RSA-2048
# (method 3) with tsunagid initiating (ping through the tunnel), then strongSwan
# initiating; ECDSA P-256 and P-384 (RFC 4754, methods 9 and 10) with tsunagid
# initiating. Each side logs the other's successful authentication, strongSwan lists
# an IKEv1 SA. Then
# strongSwan as a remote-access client with its certificate and an XAuth round
# (XAUTHInitRSA) and Mode Config (pull): it gets a virtual IP from tsunagid's pool and
# pings host-a from it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev1-pubkey
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
topo_build direct

P1=aes256-sha256-modp2048
v1() { sed -i 's/^\tversion = 2$/\tversion = 1/; s/^\t\tversion = 2$/\t\tversion = 1/' "$1"; }

# run ROLE TYPE: tsunagid is the initiator or the responder; TYPE of mkcerts.sh.
run() {
	local role=$1 type=$2 swan_args=() start=start f
	if [ "$role" = responder ]; then
		swan_args=(REMOTE_ADDRS=$SITE_A_OUT)
		start=none
	fi
	iop_note "$type: tsunagid as $role"
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" site-b-$type
	f="$(swan_dir "$NS_SB")/swanctl.conf"
	s2s_conf "$f" b IKE_PROPOSALS=$P1 ESP_PROPOSALS=aes128-sha256 "${swan_args[@]}"
	pk_conf "$f" site-b-$type
	v1 "$f"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" site-a-$type
	f="$(tsu_dir "$NS_SA")/tsunagi.conf"
	tsu_conf "$NS_SA" a START_ACTION=$start IKE_PROPOSALS=$P1 ESP_PROPOSALS=aes128-sha256
	pk_conf "$f" site-a-$type
	v1 "$f"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	[ "$role" = responder ] && swan_initiate "$NS_SB" net
	swan_wait_sa "$NS_SB" 20 || iop_fail "$type, $role: strongSwan has no SA within 20 s"
	swan_list_sas "$NS_SB" | grep -q IKEv1 || iop_fail "$type, $role: strongSwan lists no IKEv1 SA"
	tsu_log_has "$NS_SA" "authentication of 'site-b.example.net' with .* successful" ||
		iop_fail "$type, $role: tsunagid did not authenticate strongSwan's certificate"
	swan_log_has "$NS_SB" "authentication of 'site-a.example.net' with .* successful" ||
		iop_fail "$type, $role: strongSwan did not authenticate tsunagid's certificate"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" "$NET_B" || iop_fail "tsunagid created no TUN device"
	iop_ping "$NS_HA" "$HOST_B" 5 || iop_fail "$type, $role: host-a cannot ping host-b"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# ra: strongSwan's client "alice" (certificate + XAuth, vips = 0.0.0.0) dials in.
ra() {
	local pool=10.3.0.0/24 tc daemon vip s
	iop_note "pubkey + XAuth + Mode Config: strongSwan as the client"
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" site-b-rsa
	cat >"$(swan_dir "$NS_SB")/swanctl.conf" <<-SEOF
	connections {
		alice {
			version = 1
			local_addrs = $SITE_B_OUT
			remote_addrs = $SITE_A_OUT
			proposals = $P1
			vips = 0.0.0.0
			local {
				auth = pubkey
				certs = site-b-rsa.pem
				id = site-b.example.net
			}
			local-2 {
				auth = xauth
				xauth_id = alice
			}
			remote {
				auth = pubkey
				id = site-a.example.net
				cacerts = ca.pem
			}
			children {
				alice {
					remote_ts = $NET_A
					esp_proposals = aes128-sha256
				}
			}
		}
	}
	secrets {
		xauth-alice {
			id = alice
			secret = alice-password
		}
	}
	SEOF
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" site-a-rsa
	tsu_conf "$NS_SA" a
	tc=$(tsu_dir "$NS_SA")/tsunagi.conf
	daemon=$(sed -n '/^tsunagi {/,$p' "$tc")
	cat >"$tc" <<-SEOF
	connections {
		rw {
			version = 1
			local_addrs = $SITE_A_OUT
			proposals = $P1
			pools = rw-pool
			local {
				auth = pubkey
				certs = site-a-rsa.pem
				id = site-a.example.net
			}
			remote {
				auth = pubkey
				cacerts = ca.pem
			}
			remote-2 {
				auth = xauth
			}
			children {
				rw {
					local_ts = $NET_A
					remote_ts = dynamic
					esp_proposals = aes128-sha256
				}
			}
		}
	}
	pools {
		rw-pool {
			addrs = $pool
			dns = 10.1.0.53
		}
	}
	secrets {
		xauth-alice {
			id = alice
			secret = alice-password
		}
	}
	$daemon
	SEOF
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	swan_initiate "$NS_SB" alice
	iop_wait 20 eval 'swan_list_sas "$NS_SB" | grep -q "^alice.*ESTABLISHED"' ||
		iop_fail "ra: strongSwan's SA is not established"
	s=$(swan_list_sas "$NS_SB")
	vip=$(grep -o '10\.3\.0\.[0-9]*' <<<"$s" | head -1)
	[ -n "$vip" ] || iop_fail "ra: strongSwan lists no virtual IP from $pool"
	iop_note "alice: virtual IP $vip"
	tsu_log_has "$NS_SA" "authentication of 'site-b.example.net' with RSA signature successful" ||
		iop_fail "ra: tsunagid did not authenticate strongSwan's certificate"
	tsu_log_has "$NS_SA" "XAuth user 'alice' authenticated" ||
		iop_fail "ra: tsunagid's log does not say alice authenticated"
	tsu_log_has "$NS_SA" "assigned virtual IP $vip to" ||
		iop_fail "ra: tsunagid's log does not show the lease of $vip"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $pool || iop_fail "ra: no route to the pool"
	iop_wait 10 ip netns exec "$NS_SB" ping -c1 -W1 -I "$vip" $HOST_A ||
		iop_fail "ra: no ping from $vip to host-a"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

run initiator rsa
run responder rsa
run initiator ecdsa
run initiator p384
ra
iop_pass
