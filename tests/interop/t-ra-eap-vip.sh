#!/bin/bash
# The remote-access case of issue 8: a strongSwan road warrior behind the NAT logs in
# to tsunagid with EAP-MSCHAPv2 (asked for its EAP identity), tsunagid authenticated by
# its certificate (mkcerts.sh), and gets a virtual IP and a DNS server from tsunagid's
# pool: the configuration payload asked for in the first IKE_AUTH is answered in the
# last one, the lease is kept by the EAP identity ('alice'), the client pings host-b
# from its virtual IP and host-b answers it.
. "$(dirname "$0")/lib.sh"
iop_begin ra-eap-vip
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
PW="alice-eap-pw-2"
topo_build nat

# tsunagid at site-b: pool rw4, certificate site-b-ecdsa, EAP-MSCHAPv2 users.
dir=$(tsu_dir "$NS_SB")
mkdir -p "$dir"/{x509,x509ca,private}
cp "$CERTS/site-b-ecdsa.pem" "$dir/x509/"
cp "$CERTS/site-b-ecdsa.key" "$dir/private/site-b-ecdsa.pem"
cat >"$dir/tsunagi.conf" <<EOC
connections {
	rw {
		version = 2
		local_addrs = $SITE_B_OUT
		pools = rw4
		proposals = $IKE_PROPOSALS_DEFAULT
		local {
			auth = pubkey
			certs = site-b-ecdsa.pem
			id = site-b.example.net
		}
		remote {
			auth = eap-mschapv2
			eap_id = %any
		}
		children {
			net {
				local_ts = $NET_B
				remote_ts = dynamic
				esp_proposals = $ESP_PROPOSALS_DEFAULT
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
	eap-alice {
		id = alice
		secret = "$PW"
	}
}
tsunagi {
	tun = tsb$$
}
EOC
tsu_start "$NS_SB"

# strongSwan at site-a: vips = 0.0.0.0, EAP-MSCHAPv2 as alice, the gateway by the CA.
swan_prepare "$NS_SA"
sdir=$(swan_dir "$NS_SA")
cp "$CERTS/ca.pem" "$sdir/x509ca/"
cat >"$sdir/swanctl.conf" <<EOC
connections {
	rw {
		version = 2
		remote_addrs = $SITE_B_OUT
		vips = 0.0.0.0
		proposals = $IKE_PROPOSALS_DEFAULT
		local {
			auth = eap-mschapv2
			id = roadwarrior.example.net
			eap_id = alice
		}
		remote {
			auth = pubkey
			id = site-b.example.net
			cacerts = ca.pem
		}
		children {
			net {
				remote_ts = $NET_B
				esp_proposals = $ESP_PROPOSALS_DEFAULT
			}
		}
	}
}
secrets {
	eap-alice {
		id = alice
		secret = "$PW"
	}
}
EOC
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
swan_wait_sa "$NS_SA" 20 || iop_fail "strongSwan (client) has no ESTABLISHED+INSTALLED SA within 20 s"
swan_log_has "$NS_SA" "authentication of 'site-b.example.net' with .* successful" ||
	iop_fail "strongSwan did not authenticate tsunagid by its certificate"
swan_log_has "$NS_SA" "EAP method EAP_MSCHAPV2 succeeded, MSK established" ||
	iop_fail "strongSwan: no EAP-MSCHAPv2 MSK"
swan_log_has "$NS_SA" "installing new virtual IP 10\.3\.0\.1" ||
	iop_fail "strongSwan did not get 10.3.0.1: $(grep -i 'virtual IP' "$sdir/charon.log" | tail -2)"
swan_log_has "$NS_SA" "IKE_AUTH response [0-9]+ \[ AUTH CPRP\(ADDR DNS\)" ||
	iop_fail "tsunagid's last IKE_AUTH response does not carry AUTH and the CFG_REPLY with address and DNS"
swan_log_has "$NS_SA" "INTERNAL_IP4_DNS" || iop_fail "strongSwan saw no INTERNAL_IP4_DNS"
tsu_log_has "$NS_SB" "EAP-MSCHAPv2 authentication of 'alice' successful" ||
	iop_fail "tsunagid did not log alice's EAP-MSCHAPv2 login"
tsu_log_has "$NS_SB" "assigned virtual IP 10\.3\.0\.1 to 'alice' from pool 'rw4'" ||
	iop_fail "tsunagid did not lease 10.3.0.1 to the EAP identity 'alice'"
iop_ping "$NS_SA" $HOST_B 5 || iop_fail "the client cannot ping host-b from its virtual IP"
ip netns exec "$NS_HB" ping -c1 -W2 10.3.0.1 >/dev/null ||
	iop_fail "host-b cannot ping the client's virtual IP 10.3.0.1"
leases=$(tsu_ctl "$NS_SB" --list-pools --leases)
grep -Eq "10\.3\.0\.1 +online +alice" <<<"$leases" ||
	iop_fail "tsunagictl --list-pools --leases does not show alice's lease: $leases"
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
iop_pass
