# tests/interop/lib-ra.sh: the remote-access scale topology for t-ra-scale.sh and
# tests/bench/ra. Sourced after lib.sh.
#
#   ra-cl: K addresses 203.0.113.2.. on eth0 (the load generator, ragen)
#     -- veth -- ra-gw: 203.0.113.1/24 on eth0 (the gateway: tsunagid or charon),
#                       10.99.0.1 on lo (in the network behind it, 10.99.0.0/16)
# No NAT between them: each client's IKE SA has its own address and port. Each client
# asks for a virtual IP from the pool RA_POOL (remote_ts = dynamic is that address).
RA_GW=203.0.113.1 RA_FIRST=203.0.113.2 RA_NET=10.99.0.0/16 RA_PSK=ragen-psk
RA_POOL=10.98.0.0/16	# the clients' virtual IPs
RA_IKE_PROPOSALS=${RA_IKE_PROPOSALS:-aes128gcm16-prfsha256-x25519}
RA_ESP_PROPOSALS=${RA_ESP_PROPOSALS:-aes128gcm16}

# ra_topo K: the two namespaces NS_CL and NS_GW, K client addresses in NS_CL.
ra_topo() {
	local k=$1 i
	# A documentation range for the "public" side: 253 client addresses at most.
	((k >= 1 && k <= 253)) || iop_fail "ra_topo: K=$k client addresses, 1 to 253 fit in 203.0.113.0/24"
	ns_add cl; ns_add gw
	veth "$NS_CL" eth0 "$NS_GW" eth0
	addr "$NS_GW" eth0 $RA_GW/24
	addr "$NS_GW" lo 10.99.0.1/32
	# Many addresses on one interface: one batch for ip, not K processes.
	# Consecutive from RA_FIRST, as ragen counts them.
	for ((i = 0; i < k; i++)); do
		echo "addr add 203.0.113.$((2 + i))/24 dev eth0"
	done | ip -n "$NS_CL" -batch - || iop_fail "cannot add $k client addresses"
	iop_wait 5 ip netns exec "$NS_CL" ping -c1 -W1 $RA_GW || iop_fail "ra topology: no route to the gateway"
}

# ra_gw_conf: the gateway's connection "ra" (any peer, one PSK for all, a pool), in
# swanctl.conf syntax that tsunagid and charon both read.
ra_gw_conf() {
	cat <<-CONF
	connections {
		ra {
			version = 2
			local_addrs = $RA_GW
			remote_addrs = %any
			proposals = $RA_IKE_PROPOSALS
			pools = ra
			local {
				auth = psk
			}
			remote {
				auth = psk
			}
			children {
				ra {
					local_ts = $RA_NET
					esp_proposals = $RA_ESP_PROPOSALS
				}
			}
		}
	}
	pools {
		ra {
			addrs = $RA_POOL
		}
	}
	secrets {
		ike-ra {
			secret = "$RA_PSK"
		}
	}
	CONF
}

# ra_tsu_conf: tsunagid's config: ra_gw_conf and its own settings.
ra_tsu_conf() {
	local dir
	dir=$(tsu_dir "$NS_GW")
	mkdir -p "$dir"
	{
		ra_gw_conf
		cat <<-CONF
		tsunagi {
			tun = tsra$$
			log {
				default = ${RA_TSU_LOG:-0}
			}
		}
		CONF
	} >"$dir/tsunagi.conf"
}

# ra_swan_conf: the same connection for charon.
ra_swan_conf() {
	ra_gw_conf >"$(swan_dir "$NS_GW")/swanctl.conf"
}
