#!/bin/bash
# Five strongSwan road warriors behind one masquerading NAT at once, each with its own
# virtual IP from tsunagid's pool of exactly five addresses, all pinging host-b behind
# the gateway. Two of them use one identity (unique = never): two addresses. A sixth
# client then finds the pool exhausted: it is refused clearly (FAILED_CP_REQUIRED, a
# log line naming it, the ike-vip-failures counter), and the five keep their tunnels.
#
#   c1..c6 10.50.0.1N -- br1 nat (masquerade) 198.51.100.1 -- 198.51.100.2 site-b
#     (tsunagid, pool 10.3.0.1-10.3.0.5) 10.2.0.1 -- 10.2.0.10 host-b
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ra-nat-clients
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

PSK="tsunagi-ra-psk-0123456789"
PROPS=aes256gcm16-prfsha256-x25519
N=5

topo_build nat
lan_bridge "$NS_NAT" br1 10.50.0.1/24

# client I ID: namespace c<I> on the NAT's LAN, with charon asking for a virtual IP.
client() {
	local i=$1 id=$2 ns
	ns_add "c$i"
	ns=$IOP_PFX-c$i
	veth "$NS_NAT" "c$i" "$ns" eth0
	ip -n "$NS_NAT" link set "c$i" master br1
	addr "$ns" eth0 "10.50.0.1$i/24"
	route "$ns" default via 10.50.0.1
	swan_prepare "$ns"
	xt_rw_client_conf "$(swan_dir "$ns")/swanctl.conf" "$id"
	swan_start "$ns"; swan_load "$ns"
}

dir=$(tsu_dir "$NS_SB")
mkdir -p "$dir"
cat >"$dir/tsunagi.conf" <<EOF
connections {
	rw {
		version = 2
		local_addrs = $SITE_B_OUT
		pools = five
		proposals = $PROPS
		unique = never
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
	five {
		addrs = 10.3.0.1-10.3.0.5
		dns = 10.2.0.53
	}
}
secrets {
	ike-rw {
		secret = "$PSK"
	}
}
tsunagi {
	tun = tsb$$
}
EOF
tsu_start "$NS_SB"

ids=(road@example.org road@example.org carol@example.org dave@example.org erin@example.org)
for i in $(seq 1 $N); do
	client "$i" "${ids[$((i - 1))]}"
	swan_initiate "$IOP_PFX-c$i" net
done
for i in $(seq 1 $N); do
	swan_wait_sa "$IOP_PFX-c$i" 30 || iop_fail "client c$i has no ESTABLISHED+INSTALLED SA within 30 s"
done

# Each has its own address, two of them with the same identity.
vips=()
for i in $(seq 1 $N); do
	v=$(sed -n 's/.*installing new virtual IP \([0-9.]*\).*/\1/p' "$(swan_dir "$IOP_PFX-c$i")/charon.log" | tail -1)
	[ -n "$v" ] || iop_fail "client c$i got no virtual IP"
	vips+=("$v")
done
distinct=$(printf '%s\n' "${vips[@]}" | sort -u | wc -l)
[ "$distinct" = $N ] || iop_fail "the clients' virtual IPs are not all different: ${vips[*]}"
for v in "${vips[@]}"; do
	[[ $v =~ ^10\.3\.0\.[1-5]$ ]] || iop_fail "virtual IP $v is outside the pool"
done
leases=$(tsu_ctl "$NS_SB" --list-pools --leases)
[ "$(grep -c ' online .*road@example.org' <<<"$leases")" = 2 ] ||
	iop_fail "the two clients of one identity do not hold two leases: $leases"
grep -Eq "^five +10\.3\.0\.1 +5 +5 +0" <<<"$leases" || iop_fail "the pool is not full: $leases"

# Every client pings host-b through its own tunnel, and host-b reaches each address.
for i in $(seq 1 $N); do
	iop_ping "$IOP_PFX-c$i" $HOST_B 3 || iop_fail "client c$i (${vips[$((i - 1))]}) cannot ping host-b"
done
for v in "${vips[@]}"; do
	ip netns exec "$NS_HB" ping -c1 -W2 "$v" >/dev/null || iop_fail "host-b cannot ping $v"
done

# A sixth client: the pool is exhausted.
client 6 frank@example.org
swan_initiate "$IOP_PFX-c6" net
c6log=$(swan_dir "$IOP_PFX-c6")/charon.log
iop_wait 20 grep -q "FAILED_CP_REQUIRED" "$c6log" ||
	iop_fail "the sixth client was not told FAILED_CP_REQUIRED: $(grep -E 'IKE_AUTH|virtual' "$c6log" | tail -3)"
tsu_log_has "$NS_SB" "no virtual IP for 'frank@example.org'.*FAILED_CP_REQUIRED" ||
	iop_fail "tsunagid logged no clear line for the refused client"
tsu_log_has "$NS_SB" "no virtual IP for 'frank@example.org' from pools of 'rw': pool exhausted" ||
	iop_fail "tsunagid did not say the pool is exhausted"
iop_wait 10 eval "! swan_child_up '$IOP_PFX-c6'" || iop_fail "the sixth client has a CHILD_SA"
grep -Eq "ike-vip-failures: +1$" <<<"$(tsu_ctl "$NS_SB" --counters)" ||
	iop_fail "ike-vip-failures is not 1: $(tsu_ctl "$NS_SB" --counters | grep vip)"
# The five are unaffected.
for i in $(seq 1 $N); do
	iop_ping "$IOP_PFX-c$i" $HOST_B 2 || iop_fail "client c$i lost its tunnel after the refusal"
done
leases=$(tsu_ctl "$NS_SB" --list-pools --leases)
grep -Eq "^five +10\.3\.0\.1 +5 +5 +0" <<<"$leases" || iop_fail "the leases changed: $leases"
grep -q frank <<<"$leases" && iop_fail "the refused client holds a lease: $leases"
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
iop_pass
