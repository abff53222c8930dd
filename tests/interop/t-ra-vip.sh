#!/bin/bash
# Virtual IPs (IKEv2 configuration payload) with strongSwan, PSK, through the NAT.
# 1. strongSwan at site-a as a road-warrior client (vips = 0.0.0.0) of tsunagid at
#    site-b with pools: it gets the pool's first address and DNS server, pings host-b
#    from it; tsunagictl --list-pools --leases and swanctl --list-pools --leases (against
#    tsunagid) show the lease online; after a terminate it is offline, and the client
#    gets the same address back when it reconnects.
# 2. The other way round: strongSwan at site-b with pools, tsunagid at site-a with
#    vips = 0.0.0.0: the address is on tsunagid's TUN device, is its local selector, and
#    site-a pings host-b from it; when the SA goes the address goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ra-vip
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

PSK="tsunagi-ra-psk-0123456789"
PROPS=aes256gcm16-prfsha256-x25519

# gw_conf OUT: a gateway with a pool for any client identity.
gw_conf() {
	cat >"$1" <<-EOF
	connections {
		rw {
			version = 2
			local_addrs = $SITE_B_OUT
			pools = rw4
			proposals = $PROPS
			local {
				auth = psk
				id = gw.example.net
			}
			remote {
				auth = psk
			}
			children {
				net {
					local_ts = $NET_B
					remote_ts = dynamic
					esp_proposals = aes256gcm16
				}
			}
		}
	}
	pools {
		rw4 {
			addrs = 10.3.0.0/24
			dns = 10.2.0.53
		}
	}
	secrets {
		ike-rw {
			secret = "$PSK"
		}
	}
	EOF
}

topo_build nat

# --- 1. tsunagid serves the pool -----------------------------------------------------
dir=$(tsu_dir "$NS_SB")
mkdir -p "$dir"
gw_conf "$dir/tsunagi.conf"
printf 'tsunagi {\n\ttun = %s\n}\n' "tsb$$" >>"$dir/tsunagi.conf"
tsu_start "$NS_SB"

swan_prepare "$NS_SA"
xt_rw_client_conf "$(swan_dir "$NS_SA")/swanctl.conf" alice@example.org
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
swan_wait_sa "$NS_SA" 20 || iop_fail "strongSwan (client) has no ESTABLISHED+INSTALLED SA within 20 s"
swan_log_has "$NS_SA" "installing new virtual IP 10\.3\.0\.1" ||
	iop_fail "strongSwan did not get 10.3.0.1: $(grep -i 'virtual IP' "$(swan_dir "$NS_SA")/charon.log" | tail -2)"
swan_log_has "$NS_SA" "IKE_AUTH response 1 \[.*CPRP\(ADDR DNS\)" ||
	iop_fail "tsunagid's CFG_REPLY does not carry the address and the DNS server"
swan_log_has "$NS_SA" "INTERNAL_IP4_DNS" || iop_fail "strongSwan saw no INTERNAL_IP4_DNS"
tsu_log_has "$NS_SB" "assigned virtual IP 10\.3\.0\.1 to 'alice@example.org' from pool 'rw4'" ||
	iop_fail "tsunagid did not log the lease"
iop_ping "$NS_SA" $HOST_B 5 || iop_fail "the client cannot ping host-b from its virtual IP"
ip netns exec "$NS_HB" ping -c1 -W2 10.3.0.1 >/dev/null ||
	iop_fail "host-b cannot ping the client's virtual IP 10.3.0.1"

leases=$(tsu_ctl "$NS_SB" --list-pools --leases)
grep -Eq "^rw4 +10\.3\.0\.1 +254 +1 +0" <<<"$leases" ||
	iop_fail "tsunagictl --list-pools shows no online lease: $leases"
grep -Eq "10\.3\.0\.1 +online +alice@example.org" <<<"$leases" ||
	iop_fail "tsunagictl --list-pools --leases does not show alice's lease: $leases"
sw=$(timeout 20 ip netns exec "$NS_SB" swanctl --list-pools --leases --uri "$(tsu_uri "$NS_SB")" 2>&1)
grep -Eq "rw4 +10\.3\.0\.1 +1 / 0 / 254" <<<"$sw" ||
	iop_fail "swanctl --list-pools against tsunagid: $sw"
grep -Eq "10\.3\.0\.1 +online +'alice@example.org'" <<<"$sw" ||
	iop_fail "swanctl --list-pools --leases against tsunagid shows no lease: $sw"

# Terminate: the lease stays offline for alice; she comes back to the same address.
swan_ctl "$NS_SA" --terminate --ike rw >/dev/null 2>&1
iop_wait 10 eval "tsu_ctl '$NS_SB' --list-pools --leases | grep -Eq '10\.3\.0\.1 +offline +alice@example.org'" ||
	iop_fail "the lease did not go offline: $(tsu_ctl "$NS_SB" --list-pools --leases)"
swan_initiate "$NS_SA" net
swan_wait_sa "$NS_SA" 20 || iop_fail "the client did not come back"
[ "$(grep -c 'installing new virtual IP 10\.3\.0\.1' "$(swan_dir "$NS_SA")/charon.log")" -ge 2 ] ||
	iop_fail "the reconnecting client did not get 10.3.0.1 back: $(grep 'virtual IP' "$(swan_dir "$NS_SA")/charon.log" | tail -2)"
# Reloading the same pool through VICI (tsunagictl --load-all) keeps alice's lease.
out=$(tsu_ctl "$NS_SB" --load-all --file "$dir/tsunagi.conf" 2>&1)
grep -q "loaded pool 'rw4'" <<<"$out" || iop_fail "tsunagictl --load-all did not load rw4: $out"
tsu_ctl "$NS_SB" --list-pools --leases | grep -Eq '10\.3\.0\.1 +online +alice@example.org' ||
	iop_fail "load-pool of the same pool lost the lease: $(tsu_ctl "$NS_SB" --list-pools --leases)"
# swanctl --load-pools with a file that has another pool: it loads that one and
# unloads rw4, which tsunagid refuses while alice is online.
printf 'pools {\n\trw5 {\n\t\taddrs = 10.5.0.10-10.5.0.20\n\t\tdns = 10.2.0.53, 10.2.0.54\n\t}\n}\n' >"$dir/pools.conf"
out=$(timeout 20 ip netns exec "$NS_SB" swanctl --load-pools --file "$dir/pools.conf" --uri "$(tsu_uri "$NS_SB")" 2>&1)
grep -q "loaded pool 'rw5'" <<<"$out" || iop_fail "swanctl --load-pools did not load rw5: $out"
grep -q "rw4.*online lease" <<<"$out" || iop_fail "unloading rw4 with a lease online was not refused: $out"
pools=$(tsu_ctl "$NS_SB" --list-pools)
grep -Eq "^rw5 +10\.5\.0\.10 +11 +0 +0" <<<"$pools" && grep -q "^rw4 " <<<"$pools" ||
	iop_fail "tsunagictl --list-pools after swanctl --load-pools: $pools"
# A connection loaded by swanctl whose protected network overlaps a loaded pool is
# refused, naming both.
cat >"$dir/bad-conn.conf" <<EOF
connections {
	bad {
		local { auth = psk
		}
		children { net { local_ts = 10.3.0.0/16
		} }
	}
}
EOF
out=$(timeout 20 ip netns exec "$NS_SB" swanctl --load-conns --file "$dir/bad-conn.conf" --uri "$(tsu_uri "$NS_SB")" 2>&1)
grep -q "pool 'rw4': addresses 10.3.0.0/24 overlap the protected local network 10.3.0.0/16 of 'bad/net'" <<<"$out" ||
	iop_fail "swanctl --load-conns of a connection overlapping a pool was not refused: $out"
tsu_alive "$NS_SB" || iop_fail "tsunagid died"

# --- 2. tsunagid as the client of a strongSwan server with pools -----------------------
iop_stop_gateways "$NS_SA" "$NS_SB"
swan_prepare "$NS_SB"
gw_conf "$(swan_dir "$NS_SB")/swanctl.conf"
swan_start "$NS_SB"; swan_load "$NS_SB"
dir=$(tsu_dir "$NS_SA")
mkdir -p "$dir"
xt_rw_client_conf "$dir/tsunagi.conf" carol@example.org
printf 'tsunagi {\n\ttun = %s\n}\n' "tsa$$" >>"$dir/tsunagi.conf"
tsu_start "$NS_SA"
tsu_ctl "$NS_SA" --initiate --child net --timeout 15 >"$dir/initiate.out" 2>&1 ||
	iop_fail "tsunagid could not initiate: $(tail -3 "$dir/initiate.out")"
iop_wait 10 eval "ip -n '$NS_SA' addr show dev tsa$$ | grep -q 'inet 10\.3\.0\.1/32'" ||
	iop_fail "the virtual IP is not on tsunagid's TUN: $(ip -n "$NS_SA" addr show dev "tsa$$")"
tsu_log_has "$NS_SA" "installing new virtual IP 10\.3\.0\.1" || iop_fail "tsunagid logged no virtual IP"
tsu_ctl "$NS_SA" --list-sas | grep -q "10\.3\.0\.1/32" ||
	iop_fail "the virtual IP is not tsunagid's local selector: $(tsu_ctl "$NS_SA" --list-sas)"
iop_ping "$NS_SA" $HOST_B 5 || iop_fail "site-a cannot ping host-b from its virtual IP"
swan_ctl "$NS_SB" --list-pools --leases 2>&1 | grep -Eq "10\.3\.0\.1 +online +'carol@example.org'" ||
	iop_fail "strongSwan's pool shows no lease for carol"
tsu_ctl "$NS_SA" --terminate --ike rw >/dev/null 2>&1
iop_wait 10 eval "! ip -n '$NS_SA' addr show dev tsa$$ | grep -q '10\.3\.0\.1'" ||
	iop_fail "the virtual IP stayed on the TUN after the SA went"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
