#!/bin/bash
# IKEv1 PSK + XAuth with Mode Config: strongSwan at site-b is a remote-access client
# (local-2 { auth = xauth }, vips = 0.0.0.0, xauth-generic) of tsunagid at site-a, which
# has remote-2 { auth = xauth } and a pool. Checked, with Mode Config pulled (client
# REQUEST) and pushed (tsunagid's SET): the client gets a virtual IP from the pool, two
# DNS servers and the default domain (in the Mode Config message strongSwan parses),
# its CHILD_SA is VIP === site-a's network, and it pings host-a from the VIP; tsunagictl
# and swanctl show the XAuth user. At the same time a site-to-site IKEv1 connection from
# the same address (plain PSK) comes up without any XAuth exchange, and host-b pings
# host-a through it. Then a second client user with a wrong password: tsunagid logs
# why, counts it (ike-xauth-failures), sends STATUS=FAIL and deletes that ISAKMP SA; the
# other two SAs stay up, no password is logged. Again with the clients' Phase 1 in
# Aggressive Mode (pulled). Last, the roles swapped: tsunagid as the
# XAuth + Mode Config client of a strongSwan server gets its virtual IP on its TUN
# device and pings host-b from it.
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-xauth
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct

POOL=10.3.0.0/24
IKE=aes256-sha256-modp2048
ESP=aes128-sha256

# rw_conn NAME USER: strongSwan's remote-access connection.
rw_conn() {
	cat <<-SEOF
		$1 {
			version = 1
			local_addrs = $SITE_B_OUT
			remote_addrs = $SITE_A_OUT
			proposals = $IKE
			vips = 0.0.0.0
			pull = $PULL
			aggressive = $AGGR
			local {
				auth = psk
				id = $2@rw.example.net
			}
			local-2 {
				auth = xauth
				xauth_id = $2
			}
			remote {
				auth = psk
				id = site-a.example.net
			}
			children {
				$1 {
					remote_ts = $NET_A
					esp_proposals = $ESP
				}
			}
		}
	SEOF
}

# xauth_secrets PSK_ID USER:PASSWORD...: the secrets section: the PSK for PSK_ID and
# an XAuth secret for each user.
xauth_secrets() {
	local id=$1 up
	shift
	printf 'secrets {\n\tike-1 {\n\t\tid-1 = %s\n\t\tsecret = "%s"\n\t}\n' "$id" "$PSK_DEFAULT"
	for up in "$@"; do
		printf '\txauth-%s {\n\t\tid = %s\n\t\tsecret = %s\n\t}\n' \
			"${up%%:*}" "${up%%:*}" "${up#*:}"
	done
	echo "}"
}

# s2s_v1 LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS LOCAL_ADDR REMOTE_ADDR: the site-to-site
# connection (IKEv1, plain PSK).
s2s_v1() {
	cat <<-SEOF
		s2s {
			version = 1
			local_addrs = $5
			remote_addrs = $6
			proposals = $IKE
			local {
				auth = psk
				id = $1
			}
			remote {
				auth = psk
				id = $2
			}
			children {
				net {
					local_ts = $3
					remote_ts = $4
					esp_proposals = $ESP
				}
			}
		}
	SEOF
}

# server_case yes|no [aggressive]: tsunagid is the XAuth and Mode Config server (Phase 1
# in Main Mode, or in Aggressive Mode as Cisco-style clients have it), pull (client
# REQUEST) or push (tsunagid's SET); with pull also the site-to-site peer and bob.
server_case() {
	local PULL=$1 AGGR=no c="server pull=$1" s vip tc daemon
	[ "${2:-}" = aggressive ] && AGGR=yes c="server pull=$1 aggressive"
	# strongSwan: s2s (site-b.example.net) plus the clients alice (right password) and bob
	# (wrong one), all from SITE_B_OUT.
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	{
		echo "connections {"
		s2s_v1 site-b.example.net site-a.example.net $NET_B $NET_A $SITE_B_OUT $SITE_A_OUT
		rw_conn alice alice
		rw_conn bob bob
		cat <<-SEOF
		}
		$(xauth_secrets site-a.example.net alice:alice-password bob:not-bobs-password)
		SEOF
	} >"$(swan_dir "$NS_SB")/swanctl.conf"
	swan_start "$NS_SB"; swan_load "$NS_SB"

	# tsunagid: s2s for site-b, and rw for anyone proposing XAuth, with the pool.
	tsu_conf "$NS_SA" a
	tc=$(tsu_dir "$NS_SA")/tsunagi.conf
	daemon=$(sed -n '/^tsunagi {/,$p' "$tc")
	{
		echo "connections {"
		s2s_v1 site-a.example.net site-b.example.net $NET_A $NET_B $SITE_A_OUT $SITE_B_OUT
		cat <<-SEOF
			rw {
				version = 1
				local_addrs = $SITE_A_OUT
				proposals = $IKE
				pools = rw-pool
				pull = $PULL
			aggressive = $AGGR
				local {
					auth = psk
					id = site-a.example.net
				}
				remote {
					auth = psk
				}
				remote-2 {
					auth = xauth
				}
				children {
					rw {
						local_ts = $NET_A
						remote_ts = dynamic
						esp_proposals = $ESP
					}
				}
			}
		}
		pools {
			rw-pool {
				addrs = $POOL
				dns = 10.1.0.53, 10.1.0.54
			28674 = example.org
			}
		}
		$(xauth_secrets site-a.example.net alice:alice-password bob:bobs-password)
		SEOF
		echo "$daemon"
	} >"$tc"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"

	# The site-to-site peer first, then alice from the same address.
	swan_initiate "$NS_SB" net
	iop_wait 20 eval '[ "$(tsu_child_count "$NS_SA")" -ge 1 ]' ||
		iop_fail "$c: s2s: no CHILD_SA at tsunagid within 20 s"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$c: tsunagid created no TUN device"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $POOL || iop_fail "$c: no route to the pool"
	swan_initiate "$NS_SB" alice
	iop_wait 20 eval '[ "$(tsu_child_count "$NS_SA")" -ge 2 ]' ||
		iop_fail "$c: alice: no second CHILD_SA at tsunagid within 20 s: $(tsu_list_sas "$NS_SA" | head -8)"
	iop_wait 10 eval 'swan_list_sas "$NS_SB" | grep -q "^alice.*ESTABLISHED"' ||
		iop_fail "$c: alice: strongSwan's SA is not established"
	s=$(swan_list_sas "$NS_SB")
	vip=$(grep -o '10\.3\.0\.[0-9]*' <<<"$s" | head -1)
	[ -n "$vip" ] ||
		iop_fail "$c: alice: strongSwan lists no virtual IP from $POOL: $(grep -A4 '^alice' <<<"$s" | tr '\n' ' ')"
	iop_note "alice: virtual IP $vip"
	local cp=CPRP
	[ "$PULL" = no ] && cp=CPS
	swan_log_has "$NS_SB" "$cp\(ADDR.*DNS.*DNS.*U_DEFDOM" ||
		iop_fail "$c: alice: the Mode Config message strongSwan parsed has not two DNS servers and the default domain: $(grep -E 'CPRP|CPS' "$(swan_dir "$NS_SB")/charon.log" | tail -2)"
	swan_log_has "$NS_SB" "CHILD_SA alice\{[0-9]+\} established .* TS $vip/32 === $NET_A" ||
		iop_fail "$c: alice: strongSwan's CHILD_SA is not $vip/32 === $NET_A: $(grep 'CHILD_SA alice' "$(swan_dir "$NS_SB")/charon.log")"
	[ "$AGGR" = no ] || tsu_log_has "$NS_SA" "rw\[[0-9]+\].*IKEv1 Aggressive Mode from" ||
		iop_fail "$c: alice's Phase 1 was no Aggressive Mode"
	tsu_log_has "$NS_SA" "XAuth user 'alice' authenticated" ||
		iop_fail "$c: alice: tsunagid's log does not say alice authenticated"
	tsu_list_sas "$NS_SA" | grep -q "XAuth: 'alice'" ||
		iop_fail "$c: tsunagictl --list-sas does not show alice's XAuth identity"
	timeout 10 ip netns exec "$NS_SA" swanctl --list-sas --uri "$(tsu_uri "$NS_SA")" 2>&1 |
		grep -q "XAuth: 'alice'" ||
		iop_fail "$c: swanctl --list-sas against tsunagid does not show XAuth: 'alice'"
	tsu_log_has "$NS_SA" "assigned virtual IP $vip to 'alice'" ||
		iop_fail "$c: alice: tsunagid's log does not show the lease of $vip to alice"
	iop_wait 10 ip netns exec "$NS_SB" ping -c1 -W1 -I "$vip" $HOST_A ||
		iop_fail "$c: alice: no ping from $vip to host-a"
	ip netns exec "$NS_SB" ping -c3 -W1 -i 0.2 -I "$vip" $HOST_A >/dev/null ||
		iop_fail "$c: alice: pings from $vip to host-a lost"
	iop_ping "$NS_HB" $HOST_A 3 || iop_fail "$c: s2s: host-b cannot ping host-a"

	# The site-to-site SA was never asked: its ISAKMP SA is on connection s2s, and XAuth
	# was asked once (of alice).
	tsu_log_has "$NS_SA" "ISAKMP SA s2s\[[0-9]+\].* established" ||
		iop_fail "$c: s2s: tsunagid's log shows no established ISAKMP SA on s2s"
	[ "$(grep -c 'asking the XAuth client' "$(tsu_dir "$NS_SA")/tsunagid.log")" = 1 ] ||
		iop_fail "$c: XAuth was asked more than once (of the site-to-site peer too?)"

	if [ "$PULL" = no ]; then
		tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
		iop_stop_gateways "$NS_SA" "$NS_SB"
		return
	fi
	# bob's password is wrong: STATUS=FAIL, logged, counted; the others stay.
	swan_initiate "$NS_SB" bob
	iop_wait 15 tsu_log_has "$NS_SA" "XAuth authentication failed for $SITE_B_OUT: wrong password for user 'bob'; sending STATUS=FAIL and deleting the ISAKMP SA" ||
		iop_fail "$c: bob: tsunagid's log has no XAuth failure line for bob"
	[ "$(tsu_counter "$NS_SA" ike-xauth-failures)" = 1 ] ||
		iop_fail "$c: bob: ike-xauth-failures is $(tsu_counter "$NS_SA" ike-xauth-failures), not 1"
	iop_wait 10 swan_log_has "$NS_SB" "XAuth.*(fail|FAIL)|FAILURE|authentication.*failed" ||
		iop_fail "$c: bob: strongSwan's log does not show the XAuth failure"
	iop_wait 10 eval '[ "$(tsu_ike_count "$NS_SA")" = 2 ]' ||
		iop_fail "$c: after bob: tsunagid has $(tsu_ike_count "$NS_SA") ISAKMP SAs, not 2: $(tsu_list_sas "$NS_SA" | head -12)"
	! grep -Eq "alice-password|bobs-password|not-bobs-password" "$(tsu_dir "$NS_SA")/tsunagid.log" ||
		iop_fail "$c: a password is in tsunagid's log"
	ip netns exec "$NS_SB" ping -c2 -W1 -i 0.2 -I "$vip" $HOST_A >/dev/null ||
		iop_fail "$c: after bob: alice's tunnel no longer carries pings"
	tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# client_case: the roles swapped: tsunagid (local-2 { auth = xauth }, vips = 0.0.0.0) is
# the client of a strongSwan XAuth + Mode Config server (pull): it gets a virtual IP
# from strongSwan's pool, puts it on its TUN device and pings host-b from it.
client_case() {
	local c="client" tc daemon vip
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	cat >"$(swan_dir "$NS_SB")/swanctl.conf" <<-SEOF
	connections {
		rw {
			version = 1
			local_addrs = $SITE_B_OUT
			proposals = $IKE
			pools = rw-pool
			local {
				auth = psk
				id = site-b.example.net
			}
			remote {
				auth = psk
			}
			remote-2 {
				auth = xauth
			}
			children {
				rw {
					local_ts = $NET_B
					esp_proposals = $ESP
				}
			}
		}
	}
	pools {
		rw-pool {
			addrs = 10.4.0.0/24
			dns = 10.2.0.53
		}
	}
	$(xauth_secrets site-b.example.net carol:carol-password)
	SEOF
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a
	tc=$(tsu_dir "$NS_SA")/tsunagi.conf
	daemon=$(sed -n '/^tsunagi {/,$p' "$tc")
	cat >"$tc" <<-SEOF
	connections {
		rw {
			version = 1
			local_addrs = $SITE_A_OUT
			remote_addrs = $SITE_B_OUT
			proposals = $IKE
			vips = 0.0.0.0
			local {
				auth = psk
				id = carol@rw.example.net
			}
			local-2 {
				auth = xauth
				xauth_id = carol
			}
			remote {
				auth = psk
				id = site-b.example.net
			}
			children {
				rw {
					remote_ts = $NET_B
					esp_proposals = $ESP
					start_action = start
				}
			}
		}
	}
	$(xauth_secrets site-b.example.net carol:carol-password)
	$daemon
	SEOF
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	swan_wait_sa "$NS_SB" 20 || iop_fail "$c: strongSwan has no SA within 20 s"
	iop_wait 10 tsu_child_up "$NS_SA" || iop_fail "$c: tsunagid has no CHILD_SA"
	swan_log_has "$NS_SB" "XAuth authentication of 'carol' successful" ||
		iop_fail "$c: strongSwan did not authenticate carol: $(grep -i xauth "$(swan_dir "$NS_SB")/charon.log" | tail -3)"
	vip=$(sed -n "s/.*assigning virtual IP \(10\.4\.0\.[0-9]*\) to peer.*/\1/p" \
		"$(swan_dir "$NS_SB")/charon.log" | head -1)
	[ -n "$vip" ] || iop_fail "$c: strongSwan assigned no virtual IP"
	tsu_log_has "$NS_SA" "virtual IP $vip" ||
		iop_fail "$c: tsunagid's log does not show the virtual IP $vip"
	swan_log_has "$NS_SB" "CHILD_SA rw\{[0-9]+\} established .* TS $NET_B === $vip/32" ||
		iop_fail "$c: strongSwan's CHILD_SA is not $NET_B === $vip/32"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$c: tsunagid created no TUN device"
	iop_wait 10 eval 'ip -n "$NS_SA" addr show | grep -q "inet $vip/"' ||
		iop_fail "$c: the virtual IP $vip is not on a device in site-a"
	iop_wait 10 ip netns exec "$NS_SA" ping -c1 -W1 -I "$vip" $HOST_B ||
		iop_fail "$c: no ping from $vip to host-b"
	ip netns exec "$NS_SA" ping -c3 -W1 -i 0.2 -I "$vip" $HOST_B >/dev/null ||
		iop_fail "$c: pings from $vip to host-b lost"
	tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

server_case yes
server_case no
server_case yes aggressive
client_case
iop_pass
