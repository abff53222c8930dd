#!/bin/bash
# Three strongSwan IKEv1 PSK + XAuth clients behind one masquerading NAT at once, all
# with the group's IKE identity and PSK (as Cisco-style remote access has it) but their
# own XAuth users: tsunagid keeps three ISAKMP SAs (one client's INITIAL_CONTACT ends
# no other's, no SA is taken for a renewal of another), leases one address per user
# (Mode Config), and each client pings host-b through its own tunnel; host-b reaches
# each address. Then u1 reconnects (its charon restarted): INITIAL_CONTACT replaces its
# old ISAKMP SA only, and it gets its address back.
#
#   c1..c3 10.50.0.1N -- br1 nat (masquerade) 198.51.100.1 -- 198.51.100.2 site-b
#     (tsunagid, pool 10.3.0.0/29) 10.2.0.1 -- 10.2.0.10 host-b
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-xauth-nat
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

PSK="tsunagi-group-psk-0123456789"
IKE=aes256-sha256-modp2048
ESP=aes128-sha256
N=3

topo_build nat
lan_bridge "$NS_NAT" br1 10.50.0.1/24

# client I: namespace c<I> on the NAT's LAN, XAuth user uI, group identity.
client_conf() {
	local i=$1
	cat >"$(swan_dir "$IOP_PFX-c$i")/swanctl.conf" <<-EOF
	connections {
		rw {
			version = 1
			remote_addrs = $SITE_B_OUT
			vips = 0.0.0.0
			proposals = $IKE
			local {
				auth = psk
				id = group@example.net
			}
			local-2 {
				auth = xauth
				xauth_id = u$i
			}
			remote {
				auth = psk
				id = gw.example.net
			}
			children {
				net {
					remote_ts = $NET_B
					esp_proposals = $ESP
				}
			}
		}
	}
	secrets {
		ike-group {
			secret = "$PSK"
		}
		xauth-u$i {
			id = u$i
			secret = password-of-u$i
		}
	}
	EOF
}

client() {
	local i=$1 ns
	ns_add "c$i"
	ns=$IOP_PFX-c$i
	veth "$NS_NAT" "c$i" "$ns" eth0
	ip -n "$NS_NAT" link set "c$i" master br1
	addr "$ns" eth0 "10.50.0.1$i/24"
	route "$ns" default via 10.50.0.1
	swan_prepare "$ns"
	swan_fast_retransmit "$ns"
	client_conf "$i"
	swan_start "$ns"; swan_load "$ns"
}

dir=$(tsu_dir "$NS_SB")
mkdir -p "$dir"
{
	cat <<-EOF
	connections {
		rw {
			version = 1
			local_addrs = $SITE_B_OUT
			pools = rw
			proposals = $IKE
			local {
				auth = psk
				id = gw.example.net
			}
			remote {
				auth = psk
				id = group@example.net
			}
			remote-2 {
				auth = xauth
			}
			children {
				net {
					local_ts = $NET_B
					remote_ts = dynamic
					esp_proposals = $ESP
				}
			}
		}
	}
	pools {
		rw {
			addrs = 10.3.0.0/29
			dns = 10.2.0.53
		}
	}
	secrets {
		ike-group {
			secret = "$PSK"
		}
	EOF
	for i in $(seq 1 $N); do
		printf '\txauth-u%s {\n\t\tid = u%s\n\t\tsecret = password-of-u%s\n\t}\n' "$i" "$i" "$i"
	done
	printf '}\ntsunagi {\n\ttun = tsb%s\n}\n' "$$"
} >"$dir/tsunagi.conf"
tsu_fast_conf "$NS_SB"
tsu_start "$NS_SB"

for i in $(seq 1 $N); do
	client "$i"
	swan_initiate "$IOP_PFX-c$i" net
	swan_wait_sa "$IOP_PFX-c$i" 30 || iop_fail "client c$i has no ESTABLISHED+INSTALLED SA within 30 s"
done
iop_wait 10 eval '[ "$(tsu_ike_count "$NS_SB")" = $N ]' ||
	iop_fail "tsunagid has $(tsu_ike_count "$NS_SB") ISAKMP SAs, not $N: $(tsu_list_sas "$NS_SB" | head -20)"

vip_of() { sed -n 's/.*installing new virtual IP \([0-9.]*\).*/\1/p' "$(swan_dir "$IOP_PFX-c$1")/charon.log" | tail -1; }
vips=()
for i in $(seq 1 $N); do
	v=$(vip_of "$i")
	[ -n "$v" ] || iop_fail "client c$i got no virtual IP"
	[[ $v =~ ^10\.3\.0\.[1-6]$ ]] || iop_fail "virtual IP $v of c$i is outside the pool"
	vips+=("$v")
	tsu_log_has "$NS_SB" "assigned virtual IP $v to 'u$i'" ||
		iop_fail "tsunagid did not lease $v to user u$i"
done
[ "$(printf '%s\n' "${vips[@]}" | sort -u | wc -l)" = $N ] ||
	iop_fail "the clients' virtual IPs are not all different: ${vips[*]}"
for i in $(seq 1 $N); do
	iop_ping "$IOP_PFX-c$i" $HOST_B 3 || iop_fail "client c$i (${vips[$((i - 1))]}) cannot ping host-b"
done
for v in "${vips[@]}"; do
	ip netns exec "$NS_HB" ping -c1 -W2 "$v" >/dev/null || iop_fail "host-b cannot ping $v"
done
tsu_log_has "$NS_SB" "destroying stale ISAKMP SA" &&
	iop_fail "one client's INITIAL_CONTACT ended another's SA"

# u1's charon restarts: its new ISAKMP SA (INITIAL_CONTACT) replaces only its own.
iop_kill_pid "${IOP_SWAN_PID[$IOP_PFX-c1]}"
unset "IOP_SWAN_PID[$IOP_PFX-c1]"
swan_start "$IOP_PFX-c1"; swan_load "$IOP_PFX-c1"
swan_initiate "$IOP_PFX-c1" net
swan_wait_sa "$IOP_PFX-c1" 30 || iop_fail "c1 did not come back within 30 s"
iop_wait 10 tsu_log_has "$NS_SB" "INITIAL_CONTACT: destroying stale ISAKMP SA" ||
	iop_fail "tsunagid kept c1's stale ISAKMP SA"
iop_wait 10 eval '[ "$(tsu_ike_count "$NS_SB")" = $N ]' ||
	iop_fail "after c1's restart tsunagid has $(tsu_ike_count "$NS_SB") ISAKMP SAs, not $N"
[ "$(vip_of 1)" = "${vips[0]}" ] || iop_fail "c1 got $(vip_of 1) back, not ${vips[0]}"
for i in $(seq 1 $N); do
	iop_ping "$IOP_PFX-c$i" $HOST_B 2 || iop_fail "client c$i cannot ping host-b after c1's restart"
done
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
iop_pass
