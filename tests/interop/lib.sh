# tests/interop/lib.sh: network-namespace topologies and real peers for the interop
# scenarios, the tunnel benchmark and the demo. Sourced by bash scripts.
#
# Everything lives in namespaces named tsi<PID>-<role>; nothing touches the initial
# namespace's addresses, routes, firewall or sysctls. A trap ends every process that
# `ip netns pids` lists for our namespaces (they can only be ours) and deletes them,
# also on failure, SIGINT and SIGTERM.
#
# A scenario:
#   . "$(dirname "$0")/lib.sh"
#   iop_begin NAME            # root/netns checks, traps, work dir; may print SKIP and exit
#   topo_build nat            # host-a - site-a - nat - site-b - host-b (or "direct")
#   ... iop_fail "why" / iop_pass / iop_skip "why"   (exactly one final line)
#
# Standard topology ("First light"):
#   host-a 10.1.0.10/24 -- 10.1.0.1 site-a 100.64.0.2 -- 100.64.0.1 nat 198.51.100.1
#     -- 198.51.100.2 site-b 10.2.0.1 -- 10.2.0.10 host-b
# nat masquerades what leaves towards 198.51.100.0/24. In the "direct" variant, nat is a
# plain bridge (still a place to capture) and site-a sits at 198.51.100.3/24.

IOP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IOP_TOP=$(cd "$IOP_LIB_DIR/../.." && pwd)
BUILD=${BUILD:-$IOP_TOP/build-check}
IOP_CONF_DIR=$IOP_LIB_DIR/conf

# Addresses of the standard topology.
HOST_A=10.1.0.10 SITE_A_IN=10.1.0.1 NET_A=10.1.0.0/24
HOST_B=10.2.0.10 SITE_B_IN=10.2.0.1 NET_B=10.2.0.0/24
SITE_B_OUT=198.51.100.2 NAT_OUT=198.51.100.1 NAT_IN=100.64.0.1
SITE_A_OUT=""	# site-a's own outside address (set by topo_build)
SITE_A_SEEN=""	# where site-b sees site-a's packets come from (set by topo_build)

IOP_NAME=""		# scenario name, for the result line
IOP_RESULT=""		# set once the final line is printed
IOP_WORK=""		# per-run directory: configs, logs, captures
IOP_NAMESPACES=""	# every namespace we created, for the cleanup
IOP_LOGS=()		# "label|path" pairs shown when a scenario fails
declare -A IOP_SWAN_PID=()	# namespace -> charon pid
declare -A IOP_TSU_PID=()	# namespace -> tsunagid pid
IOP_PFX="tsi$$"

# --- results ------------------------------------------------------------------------

iop_pass() {
	IOP_RESULT=PASS
	echo "PASS: $IOP_NAME"
	exit 0
}

iop_skip() {
	IOP_RESULT=SKIP
	echo "SKIP: $IOP_NAME: $*"
	exit 0
}

# iop_done: ends a script that is not a scenario (benchmark, demo) without a result line.
iop_done() {
	IOP_RESULT=DONE
	exit "${1:-0}"
}

# iop_fail WHY: shows the last lines of every registered log, then the FAIL line.
iop_fail() {
	iop_show_logs
	IOP_RESULT=FAIL
	local why="$*"
	echo "FAIL: $IOP_NAME: ${why//$'\n'/ }"
	exit 1
}

iop_show_logs() {
	local entry label path
	for entry in "${IOP_LOGS[@]}"; do
		label=${entry%%|*}
		path=${entry#*|}
		[ -s "$path" ] || continue
		echo "    --- $label (last ${IOP_LOG_LINES:-25} lines of $path)"
		tail -n "${IOP_LOG_LINES:-25}" "$path" | sed 's/^/    | /'
	done
}

iop_register_log() { IOP_LOGS+=("$1|$2"); }

# iop_note TEXT: progress on stderr when VERBOSE=1 (never a result line).
iop_note() { [ "${VERBOSE:-0}" = 1 ] && echo "    .. $*" >&2; return 0; }

# --- set-up and cleanup -------------------------------------------------------------

# iop_begin NAME: checks that we can run (root, ip netns), installs the traps and makes
# the work directory. Prints SKIP and exits when the machine cannot run the scenario.
iop_begin() {
	IOP_NAME=$1
	[ "$(id -u)" = 0 ] || iop_skip "needs root"
	command -v ip >/dev/null 2>&1 || iop_skip "iproute2 (ip) not installed"
	ip netns add "$IOP_PFX-probe" 2>/dev/null || iop_skip "ip netns unavailable"
	ip netns del "$IOP_PFX-probe"
	IOP_WORK=$(mktemp -d "/tmp/tsi-$IOP_NAME.XXXXXX")
	trap iop_cleanup EXIT
	trap 'iop_interrupted INT 130' INT
	trap 'iop_interrupted TERM 143' TERM
	trap 'iop_interrupted HUP 129' HUP
}

iop_interrupted() {
	if [ -z "$IOP_RESULT" ]; then
		iop_show_logs
		IOP_RESULT=FAIL
		echo "FAIL: $IOP_NAME: interrupted (SIG$1)"
	fi
	exit "$2"
}

# iop_require_cmd CMD PACKAGE...: FAIL at once, naming the package, when a tool is
# missing (tools/setup.sh installs every one: a missing tool is a broken set-up).
iop_require_cmd() {
	local c=$1; shift
	command -v "$c" >/dev/null 2>&1 || iop_fail "$c not installed (package $*; run tools/setup.sh)"
}

iop_require_tsunagid() {
	[ -x "$BUILD/tsunagid" ] || iop_skip "tsunagid not built"
	[ -x "$BUILD/tsunagictl" ] || iop_skip "tsunagictl not built"
}

# iop_kill_ns_pids NS...: ends every process inside the namespaces (TERM, then KILL).
iop_kill_ns_pids() {
	local ns pid pids=""
	for ns in "$@"; do
		pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
	done
	[ -n "${pids// /}" ] || return 0
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
	for _ in $(seq 1 30); do
		local alive=""
		for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
	sleep 0.2
}

iop_cleanup() {
	trap - EXIT INT TERM HUP
	local ns
	# Background jobs of this shell (captures, wrappers) are ours too.
	local j
	for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null; done
	# shellcheck disable=SC2086
	iop_kill_ns_pids $IOP_NAMESPACES
	for ns in $IOP_NAMESPACES; do
		ip netns del "$ns" 2>/dev/null
	done
	IOP_NAMESPACES=""
	if [ -n "$IOP_WORK" ] && [ -d "$IOP_WORK" ]; then
		if [ "${KEEP_WORK:-0}" = 1 ] || { [ "$IOP_RESULT" = FAIL ] && [ "${KEEP_FAILED:-0}" = 1 ]; }; then
			echo "    (work directory kept: $IOP_WORK)" >&2
		else
			rm -rf "$IOP_WORK"
		fi
	fi
	if [ -z "$IOP_RESULT" ] && [ -n "$IOP_NAME" ]; then
		IOP_RESULT=FAIL
		echo "FAIL: $IOP_NAME: ended without a result"
	fi
}

# iop_reap_stale: deletes namespaces left by a run of ours that was killed outright
# (SIGKILL): names tsi<PID>-<role> whose PID no longer exists.
iop_reap_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in tsi[0-9]*-*) ;; *) continue ;; esac
		pid=${ns#tsi}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null && continue
		iop_kill_ns_pids "$ns"
		ip netns del "$ns" 2>/dev/null
	done
}

# --- waiting ------------------------------------------------------------------------

# iop_wait SECONDS CMD...: runs CMD every 0.2 s until it succeeds; fails after SECONDS.
iop_wait() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# --- topology -----------------------------------------------------------------------

# ns_add ROLE: creates namespace tsi<PID>-ROLE, sets NS_<ROLE> to its name.
ns_add() {
	local ns="$IOP_PFX-$1"
	ip netns add "$ns" || iop_fail "cannot create namespace $ns"
	IOP_NAMESPACES="$IOP_NAMESPACES $ns"
	ip -n "$ns" link set lo up
	# The namespace's own sysctls: no IPv6 chatter, no reverse-path filter (TUN return
	# traffic), and IPv4 conf inherited from the initial namespace is made explicit.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null 2>&1
	printf -v "NS_${1^^}" '%s' "$ns"
}

# ns_forward NS: IP forwarding inside that namespace only.
ns_forward() { ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 >/dev/null; }

# veth NS1 IF1 NS2 IF2: a veth pair, created inside NS1 (never in the initial namespace).
veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
		iop_fail "cannot create veth $1/$2 - $3/$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

addr() { ip -n "$1" addr add "$3" dev "$2" || iop_fail "cannot add $3 to $1/$2"; }

# lan_bridge NS DEV CIDR: a bridge DEV with address CIDR in NS, the router side of a
# LAN whose hosts are added later (veth + "ip link set ... master DEV"). Its MAC is
# fixed: a bridge otherwise takes the lowest MAC of its ports and so changes it when a
# port is added, and a host whose ARP entry still holds the old MAC sends frames the
# router no longer takes as its own (they are dropped, not forwarded) for tens of
# seconds, until the entry is probed again: a client that cannot ping or loses its
# tunnel, more often on a loaded machine.
lan_bridge() {
	ip -n "$1" link add "$2" address 02:00:00:00:00:01 type bridge ||
		iop_fail "cannot create the bridge $1/$2"
	ip -n "$1" link set "$2" up
	addr "$1" "$2" "$3"
}
route() { local ns=$1; shift; ip -n "$ns" route add "$@" || iop_fail "cannot add route $* in $ns"; }

# topo_build nat|direct: the five namespaces NS_HA NS_SA NS_NAT NS_SB NS_HB.
topo_build() {
	local kind=${1:-nat}
	ns_add ha; ns_add sa; ns_add nat; ns_add sb; ns_add hb
	veth "$NS_HA" eth0 "$NS_SA" in0
	veth "$NS_SA" out0 "$NS_NAT" in0
	veth "$NS_NAT" out0 "$NS_SB" out0
	veth "$NS_SB" in0 "$NS_HB" eth0

	addr "$NS_HA" eth0 $HOST_A/24
	route "$NS_HA" default via $SITE_A_IN
	addr "$NS_SA" in0 $SITE_A_IN/24
	addr "$NS_SB" out0 $SITE_B_OUT/24
	addr "$NS_SB" in0 $SITE_B_IN/24
	addr "$NS_HB" eth0 $HOST_B/24
	route "$NS_HB" default via $SITE_B_IN
	ns_forward "$NS_SA"
	ns_forward "$NS_SB"

	case "$kind" in
	nat)
		SITE_A_OUT=100.64.0.2 SITE_A_SEEN=$NAT_OUT
		addr "$NS_SA" out0 $SITE_A_OUT/24
		route "$NS_SA" default via $NAT_IN
		addr "$NS_NAT" in0 $NAT_IN/24
		addr "$NS_NAT" out0 $NAT_OUT/24
		ns_forward "$NS_NAT"
		ip netns exec "$NS_NAT" nft -f - <<-EOF || iop_fail "nft masquerade rule failed"
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "out0" masquerade
			}
		}
		EOF
		;;
	direct)
		SITE_A_OUT=198.51.100.3 SITE_A_SEEN=$SITE_A_OUT
		ip -n "$NS_NAT" link add br0 type bridge || iop_fail "cannot create bridge"
		ip -n "$NS_NAT" link set in0 master br0
		ip -n "$NS_NAT" link set out0 master br0
		ip -n "$NS_NAT" link set br0 up
		addr "$NS_NAT" br0 $NAT_OUT/24
		addr "$NS_SA" out0 $SITE_A_OUT/24
		;;
	*) iop_fail "topo_build: unknown kind $kind" ;;
	esac
	# The link the NAT/bridge sees towards site-b: where captures look.
	export CAPTURE_IF=out0
	iop_wait 5 ip netns exec "$NS_NAT" ping -c1 -W1 $SITE_B_OUT ||
		iop_fail "topology: nat cannot reach site-b"
}

# topo_destroy: ends everything in the topology and deletes its namespaces (to build
# another one in the same run).
topo_destroy() {
	local ns
	# shellcheck disable=SC2086
	iop_kill_ns_pids $IOP_NAMESPACES
	for ns in $IOP_NAMESPACES; do ip netns del "$ns" 2>/dev/null; done
	IOP_NAMESPACES=""
	IOP_SWAN_PID=() IOP_TSU_PID=() IOP_LOGS=()
	rm -rf "${IOP_WORK:?}"/swan-* "${IOP_WORK:?}"/tsu-*
}

# topo_plain_route: lets host-a reach host-b without a tunnel (the benchmark's
# reference): nat routes both inside networks (replies come back to its address).
topo_plain_route() {
	route "$NS_NAT" $NET_B via $SITE_B_OUT
	route "$NS_NAT" $NET_A via $SITE_A_OUT
	[ "$SITE_A_SEEN" = "$SITE_A_OUT" ] && route "$NS_SB" $NET_A via $SITE_A_OUT
	return 0
}

# iop_ping NS DST [COUNT]: waits up to 10 s for a first answer (SA and routes being
# installed), then COUNT more pings must all come back.
iop_ping() {
	local ns=$1 dst=$2 count=${3:-3}
	iop_wait "${PING_WAIT:-10}" ip netns exec "$ns" ping -c1 -W1 "$dst" || return 1
	ip netns exec "$ns" ping -q -c "$count" -i 0.2 -W 2 "$dst" >"$IOP_WORK/ping.out" 2>&1
}

# --- configuration templates --------------------------------------------------------

# iop_render TEMPLATE OUT KEY=VALUE...: replaces each @KEY@ in TEMPLATE (a later pair
# with the same KEY wins); fails if any @KEY@ is left unreplaced.
iop_render() {
	local tmpl=$1 out=$2 kv key val sedargs=()
	local -A vals=()
	shift 2
	for kv in "$@"; do
		vals[${kv%%=*}]=${kv#*=}	# a later KEY=VALUE wins
	done
	for key in "${!vals[@]}"; do
		val=${vals[$key]}
		val=${val//\\/\\\\}
		val=${val//|/\\|}
		val=${val//&/\\&}
		sedargs+=(-e "s|@$key@|$val|g")
	done
	sed "${sedargs[@]}" "$tmpl" >"$out" || iop_fail "cannot render $tmpl"
	if grep -q '@[A-Z_]*@' "$out"; then
		iop_fail "unreplaced template keys in $out: $(grep -o '@[A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
	fi
}

# s2s_conf OUT a|b [KEY=VALUE...]: swanctl.conf (connection "s2s", child "net") for the
# gateway at site-a or site-b of the current topology. Later KEY=VALUE pairs win.
# Keys: LOCAL_ADDRS REMOTE_ADDRS LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS IKE_PROPOSALS
# ESP_PROPOSALS START_ACTION PSK.
IKE_PROPOSALS_DEFAULT=aes256gcm16-prfsha256-x25519
ESP_PROPOSALS_DEFAULT=aes256gcm16
PSK_DEFAULT="tsunagi-interop-psk-0123456789"
s2s_conf() {
	local out=$1 side=$2
	shift 2
	local common=("IKE_PROPOSALS=$IKE_PROPOSALS_DEFAULT" "ESP_PROPOSALS=$ESP_PROPOSALS_DEFAULT"
		PSK="$PSK_DEFAULT" START_ACTION=none)
	case "$side" in
	a) iop_render "$IOP_CONF_DIR/s2s.conf" "$out" "${common[@]}" \
		LOCAL_ADDRS=$SITE_A_OUT REMOTE_ADDRS=$SITE_B_OUT \
		LOCAL_ID=site-a.example.net REMOTE_ID=site-b.example.net \
		LOCAL_TS=$NET_A REMOTE_TS=$NET_B "$@" ;;
	b) iop_render "$IOP_CONF_DIR/s2s.conf" "$out" "${common[@]}" \
		LOCAL_ADDRS=$SITE_B_OUT REMOTE_ADDRS=%any \
		LOCAL_ID=site-b.example.net REMOTE_ID=site-a.example.net \
		LOCAL_TS=$NET_B REMOTE_TS=$NET_A "$@" ;;
	*) iop_fail "s2s_conf: side must be a or b" ;;
	esac
}

# --- strongSwan (charon with kernel-libipsec) -----------------------------------------

swan_dir() { echo "$IOP_WORK/swan-$1"; }

# swan_prepare NS: makes the instance directory and its strongswan.conf; the caller
# writes "$(swan_dir NS)/swanctl.conf" (e.g. with s2s_conf) before swan_start.
swan_prepare() {
	local dir
	dir=$(swan_dir "$1")
	mkdir -p "$dir"/{conf.d,x509,x509ca,private,rsa,ecdsa,pkcs8}
	iop_render "$IOP_CONF_DIR/strongswan.conf" "$dir/strongswan.conf" \
		DIR="$dir" LOGLEVEL="${SWAN_LOGLEVEL:-2}"
	iop_register_log "strongSwan in ${1#"$IOP_PFX"-}" "$dir/charon.log"
}

# swan_start NS: starts charon in NS with its own /run and /etc/swanctl, waits for VICI.
swan_start() {
	local ns=$1 dir pid
	dir=$(swan_dir "$ns")
	[ -f "$dir/strongswan.conf" ] || swan_prepare "$ns"
	[ -f "$dir/swanctl.conf" ] || iop_fail "swan_start: $dir/swanctl.conf missing"
	STRONGSWAN_CONF=$dir/strongswan.conf ip netns exec "$ns" \
		unshare -m --propagation private sh -c \
		"mount -t tmpfs none /run && mount --bind '$dir' /etc/swanctl && exec /usr/lib/ipsec/charon" \
		>"$dir/charon.stderr" 2>&1 &
	pid=$!
	IOP_SWAN_PID[$ns]=$pid
	iop_register_log "charon stderr in ${ns#"$IOP_PFX"-}" "$dir/charon.stderr"
	iop_wait 10 swan_ctl "$ns" --stats ||
		iop_fail "strongSwan in ${ns#"$IOP_PFX"-}: VICI socket not up within 10 s"
	swan_check_plugins "$ns"
}

# swan_check_plugins NS: a plugin that charon could not load (its package missing) would
# make it offer what it cannot do and time out later; fail now and name the package.
swan_check_plugins() {
	local dir failed check
	dir=$(swan_dir "$1")
	failed=$(sed -n "s/.*plugin '\([^']*\)': failed to load.*/\1/p" "$dir/charon.log" \
		"$dir/charon.stderr" 2>/dev/null | sort -u | paste -sd ' ' -)
	[ -z "$failed" ] && return 0
	check=$(sh "$IOP_TOP/tools/setup.sh" --check 2>&1 | grep '^missing:' | paste -sd ';' -)
	iop_fail "strongSwan in ${1#"$IOP_PFX"-}: charon failed to load plugin(s) $failed;" \
		"${check:-the plugin files are there: see charon.log}"
}

# swan_ctl NS COMMAND ARGS...: swanctl inside charon's network and mount namespaces, so that
# /etc/swanctl is the instance's directory (and with charon's root directory: entering a
# mount namespace would otherwise reset it, which matters when the tests run chrooted).
swan_ctl() {
	local ns=$1; shift
	local pid=${IOP_SWAN_PID[$ns]:-}
	[ -n "$pid" ] || return 1
	local cmd=$1; shift
	timeout 20 nsenter -t "$pid" -m -n -r swanctl "$cmd" --uri "unix://$(swan_dir "$ns")/charon.vici" "$@"
}

swan_load() {
	swan_ctl "$1" --load-all >"$(swan_dir "$1")/load.out" 2>&1 ||
		iop_fail "swanctl --load-all failed in ${1#"$IOP_PFX"-}: $(tail -3 "$(swan_dir "$1")/load.out" | tr '\n' ' ')"
}

# swan_initiate NS CHILD: asks charon to start CHILD (does not wait for the result).
swan_initiate() {
	swan_ctl "$1" --initiate --child "$2" --timeout 15 >>"$(swan_dir "$1")/initiate.out" 2>&1 &
}

# swan_list_sas NS: prints `swanctl --list-sas` (also kept as list-sas.out).
swan_list_sas() {
	swan_ctl "$1" --list-sas 2>&1 | tee "$(swan_dir "$1")/list-sas.out"
}

# swan_sa_up NS: true when an IKE SA is ESTABLISHED and a CHILD_SA INSTALLED.
swan_sa_up() {
	local out
	out=$(swan_ctl "$1" --list-sas 2>/dev/null) || return 1
	grep -q ESTABLISHED <<<"$out" && grep -q INSTALLED <<<"$out"
}

# swan_wait_sa NS [SECONDS]
swan_wait_sa() { iop_wait "${2:-20}" swan_sa_up "$1"; }

# swan_log_has NS REGEX: grep -E in charon's log.
swan_log_has() { grep -Eq "$2" "$(swan_dir "$1")/charon.log"; }

# --- tsunagid -----------------------------------------------------------------------

tsu_dir() { echo "$IOP_WORK/tsu-$1"; }
tsu_uri() { echo "unix://$(tsu_dir "$1")/tsunagi.vici"; }

# tsu_conf NS a|b [KEY=VALUE...]: tsunagid's config: the same swanctl.conf as
# strongSwan's plus a minimal "tsunagi { }" section (its TUN device name).
tsu_conf() {
	local ns=$1 side=$2 dir
	shift 2
	dir=$(tsu_dir "$ns")
	mkdir -p "$dir"
	s2s_conf "$dir/tsunagi.conf" "$side" "$@"
	printf 'tsunagi {\n\ttun = %s\n}\n' "ts$side$$" >>"$dir/tsunagi.conf"
	printf -v "TSU_TUN_${side^^}" '%s' "ts$side$$"
}

# tsu_start NS: starts tsunagid in NS (config written by tsu_conf), waits for VICI.
# Words in the array TSU_ARGS are added to its command line.
TSU_ARGS=()
tsu_start() {
	local ns=$1 dir pid
	dir=$(tsu_dir "$ns")
	[ -f "$dir/tsunagi.conf" ] || iop_fail "tsu_start: $dir/tsunagi.conf missing"
	iop_register_log "tsunagid in ${ns#"$IOP_PFX"-}" "$dir/tsunagid.log"
	ip netns exec "$ns" "$BUILD/tsunagid" --foreground --config "$dir/tsunagi.conf" \
		--vici "$(tsu_uri "$ns")" --pidfile "$dir/tsunagid.pid" "${TSU_ARGS[@]}" \
		>"$dir/tsunagid.log" 2>&1 &
	pid=$!
	IOP_TSU_PID[$ns]=$pid
	iop_wait 10 test -S "$dir/tsunagi.vici" || {
		kill -0 "$pid" 2>/dev/null || iop_fail "tsunagid in ${ns#"$IOP_PFX"-} exited at start"
		iop_fail "tsunagid in ${ns#"$IOP_PFX"-}: VICI socket not up within 10 s"
	}
}

tsu_alive() { kill -0 "${IOP_TSU_PID[$1]:-0}" 2>/dev/null; }

# tsu_ctl NS ARGS...: tsunagictl against that instance.
tsu_ctl() {
	local ns=$1; shift
	timeout 20 ip netns exec "$ns" "$BUILD/tsunagictl" --uri "$(tsu_uri "$ns")" "$@"
}

# tsu_list_sas NS: prints `tsunagictl --list-sas` (also kept as list-sas.out).
tsu_list_sas() { tsu_ctl "$1" --list-sas 2>&1 | tee "$(tsu_dir "$1")/list-sas.out"; }

# tsu_shows_sa NS CONN PEER: tsunagictl --list-sas names the connection and the peer.
tsu_shows_sa() {
	local out
	out=$(tsu_ctl "$1" --list-sas 2>/dev/null) || return 1
	grep -q "$2" <<<"$out" && grep -q "$3" <<<"$out"
}

# tsu_ensure_route NS TUN NET: makes NET reach the tunnel like strongSwan's
# install_routes. If the route lookup already leaves through a device other than the
# uplink (out0), tsunagid routed it itself; else, once TUN exists, the harness adds the
# route and says so in the work directory's harness.log.
tsu_ensure_route() {
	local ns=$1 tun=$2 net=$3
	tsu_net_routed() { ! ip -n "$1" route get "${2%/*}" 2>/dev/null | grep -q "dev out0"; }
	iop_wait 10 eval 'tsu_net_routed "$ns" "$net" || ip -n "$ns" link show "$tun"' || return 1
	tsu_net_routed "$ns" "$net" && return 0
	echo "harness: route $net dev $tun added in $ns (tsunagid did not)" >>"$IOP_WORK/harness.log"
	ip -n "$ns" link set "$tun" up
	ip -n "$ns" route replace "$net" dev "$tun"
}

# tsu_child_up NS: tsunagictl --list-sas shows an installed CHILD_SA (TSU_CHILD_UP_RE,
# swanctl's wording by default).
TSU_CHILD_UP_RE=${TSU_CHILD_UP_RE:-INSTALLED}
tsu_child_up() { tsu_ctl "$1" --list-sas 2>/dev/null | grep -Eiq "$TSU_CHILD_UP_RE"; }

# swan_child_up NS: charon has an installed CHILD_SA.
swan_child_up() { swan_ctl "$1" --list-sas 2>/dev/null | grep -q INSTALLED; }

# iop_stop_gateways NS...: ends every daemon in those namespaces (to run another case on
# the same topology).
iop_stop_gateways() {
	local ns
	iop_kill_ns_pids "$@"
	for ns in "$@"; do
		unset "IOP_SWAN_PID[$ns]" "IOP_TSU_PID[$ns]"
		rm -rf "$(swan_dir "$ns")" "$(tsu_dir "$ns")"
	done
	IOP_LOGS=()
}

# tsu_log_has NS REGEX: grep -Ei in tsunagid's log.
tsu_log_has() { grep -Eiq "$2" "$(tsu_dir "$1")/tsunagid.log"; }

# --- captures -----------------------------------------------------------------------

# cap_start NS IFACE FILE FILTER: tshark in the background; waits until it captures.
cap_start() {
	local ns=$1 ifc=$2 file=$3 filter=$4
	ip netns exec "$ns" tshark -q -n -i "$ifc" -f "$filter" -w "$file" \
		>"$file.log" 2>&1 &
	CAP_PID=$!
	iop_wait 15 grep -q "Capturing on" "$file.log" || iop_fail "tshark did not start: $(tail -2 "$file.log")"
}

# cap_stop: ends the capture started last and waits for the file to be written.
cap_stop() {
	[ -n "${CAP_PID:-}" ] || return 0
	sleep 0.3
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=""
}

# cap_ike_seeds PCAP OUTDIR PREFIX: writes each IKE message in PCAP (IKE_SA_INIT,
# IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL; IKEv1's ID_PROT, AGGRESSIVE,
# INFORMATIONAL_V1, QUICK_MODE) as a raw IKE message (non-ESP marker stripped on port 4500) to OUTDIR/PREFIX-NN-TYPE.bin.
# Prints how many it wrote.
cap_ike_seeds() {
	local pcap=$1 out=$2 pfx=$3 n=0 sport dport et payload type
	mkdir -p "$out"
	while read -r sport dport et payload; do
		[ -n "$payload" ] || continue
		if [ "$sport" = 4500 ] || [ "$dport" = 4500 ]; then
			[ "${payload:0:8}" = 00000000 ] || continue
			payload=${payload:8}
		fi
		case "$et" in
		34) type=ike_sa_init ;; 35) type=ike_auth ;;
		36) type=create_child_sa ;; 37) type=informational ;;
		2) type=id_prot ;; 4) type=aggressive ;; 5) type=informational_v1 ;;
		32) type=quick_mode ;; *) continue ;;
		esac
		n=$((n + 1))
		printf '%s' "$payload" | xxd -r -p >"$out/$(printf '%s-%02d-%s' "$pfx" $n $type).bin"
	done < <(tshark -r "$pcap" -n -Y isakmp -T fields -e udp.srcport -e udp.dstport \
		-e isakmp.exchangetype -e udp.payload 2>/dev/null)
	echo $n
}

# --- scenarios: matrix/rekey/dpd/trap ---
# Helpers for t-matrix, t-pfs, t-rekey-under-load, t-dpd and t-trap. The config files
# rendered from conf/s2s.conf are edited in place (the template stays as it is).

# conf_conn_add FILE LINE...: adds settings to the connection section (after "version").
conf_conn_add() {
	local f=$1 l; shift
	for l in "$@"; do sed -i "/^\t\tversion = /a\\\t\t$l" "$f"; done
}

# conf_child_add FILE LINE...: adds settings to the child "net" (after its start_action).
conf_child_add() {
	local f=$1 l; shift
	for l in "$@"; do sed -i "/^\t\t\t\tstart_action = /a\\\t\t\t\t$l" "$f"; done
}

# tsu_daemon_add NS LINE...: adds settings to the "tsunagi { }" section that tsu_conf
# appended last (its closing brace is the file's last line).
tsu_daemon_add() {
	local f l
	f="$(tsu_dir "$1")/tsunagi.conf"; shift
	for l in "$@"; do sed -i "\$i\\\t$l" "$f"; done
}

# tsu_fast_conf NS: tsunagid logs IKE at level 2 and gives up on an unanswered request
# after about 2.2 s (0.5 s, then x1.4, two retransmits).
tsu_fast_conf() {
	tsu_daemon_add "$1" "retransmit_timeout = 0.5" "retransmit_base = 1.4" \
		"retransmit_tries = 2" "log {" "	default = 1" "	ike = 2" "	knl = 2" "}"
}

# swan_fast_retransmit NS: the same retransmission schedule for charon (after swan_prepare).
swan_fast_retransmit() {
	local f
	f="$(swan_dir "$1")/strongswan.conf"
	sed -i -e 's/^\tretransmit_timeout = .*/\tretransmit_timeout = 0.5\n\tretransmit_base = 1.4/' \
		-e 's/^\tretransmit_tries = .*/\tretransmit_tries = 2/' "$f"
}

# tsu_reload NS: tsunagid rereads its config file (SIGHUP); waits for the log line.
tsu_reload() {
	local ns=$1 log n
	log="$(tsu_dir "$ns")/tsunagid.log"
	n=$(grep -c "loaded configuration" "$log")
	kill -HUP "${IOP_TSU_PID[$ns]}" 2>/dev/null || return 1
	iop_wait 5 eval '[ "$(grep -c "loaded configuration" "$log")" -gt "$n" ]'
}

# swan_reload NS: swanctl --load-all (no failure exit; returns its status).
swan_reload() { swan_ctl "$1" --load-all >"$(swan_dir "$1")/load.out" 2>&1; }

# Counting SAs in the two listings (tsunagictl prints swanctl's layout in columns:
# "CONN  #N  STATE ..." for an IKE SA, "  CHILD  #N  STATE ..." for a CHILD_SA).
swan_ike_count() { swan_ctl "$1" --list-sas 2>/dev/null | grep -c '^[^ ].*: #[0-9]*, '; }
swan_child_count() { swan_ctl "$1" --list-sas 2>/dev/null | grep -c '^  [^ ].*: #[0-9]*, reqid'; }
tsu_ike_count() { tsu_ctl "$1" --list-sas 2>/dev/null | grep -c '^[^ ][^ ]* *#[0-9]'; }
tsu_child_count() { tsu_ctl "$1" --list-sas 2>/dev/null | grep -c '^  [^ ][^ ]* *#[0-9]'; }

# swan_child_spis NS / tsu_child_spis NS: "IN OUT" SPIs of every CHILD_SA, one per line.
swan_child_spis() {
	swan_ctl "$1" --list-sas 2>/dev/null | awk '/^    in  /{i=$2} /^    out /{print i, $2}' | tr -d ,
}
tsu_child_spis() {
	tsu_ctl "$1" --list-sas 2>/dev/null | grep -o '[0-9a-f]\{8\}_i [0-9a-f]\{8\}_o' | sed 's/_i / /; s/_o$//'
}
# swan_ike_spis NS / tsu_ike_spis NS: the SPI pairs of every IKE SA, one per line.
swan_ike_spis() { swan_ctl "$1" --list-sas 2>/dev/null | grep -o '[0-9a-f]\{16\}_i\*\? [0-9a-f]\{16\}_r\*\?' | tr -d '*'; }
tsu_ike_spis() {
	tsu_ctl "$1" --list-sas --pretty 2>/dev/null |
		awk '/initiator-spi/{i=$3} /responder-spi/{print i"_i", $3"_r"}'
}

# sa_pair_ok SWAN_NS TSU_NS: exactly one IKE SA and one CHILD_SA on both ends, and the
# two ends agree on the SPIs (strongSwan's in is tsunagid's out).
sa_pair_ok() {
	[ "$(swan_ike_count "$1")" = 1 ] && [ "$(swan_child_count "$1")" = 1 ] &&
	[ "$(tsu_ike_count "$2")" = 1 ] && [ "$(tsu_child_count "$2")" = 1 ] || return 1
	local s t
	s=$(swan_child_spis "$1") t=$(tsu_child_spis "$2")
	[ -n "$s" ] && [ "$s" = "${t#* } ${t% *}" ]
}

# sa_none SWAN_NS TSU_NS: neither end lists any SA.
sa_none() {
	[ "$(swan_ike_count "$1")" = 0 ] && [ "$(tsu_ike_count "$2")" = 0 ] &&
	[ "$(tsu_child_count "$2")" = 0 ]
}

# iop_kill_pid PID: SIGKILL to one process we started (a crash, not a shutdown), waits.
iop_kill_pid() {
	local pid=$1
	[ -n "$pid" ] || return 1
	kill -KILL "$pid" 2>/dev/null || return 1
	wait "$pid" 2>/dev/null	# our own job: reaped here, without bash's "Killed" notice
	iop_wait 5 eval '! kill -0 "$pid"'
}

# ping_start NS DST COUNT INTERVAL OUT: pings in the background (its pid in PING_PID);
# ping_lost OUT: after it ended, how many went unanswered.
ping_start() {
	ip netns exec "$1" ping -n -c "$3" -i "$4" -W 1 "$2" >"$5" 2>&1 &
	PING_PID=$!
}
ping_lost() {
	awk '/packets transmitted/{print $1 - $4; f=1} END{if (!f) print 9999}' "$1"
}

# swan_charon_add NS LINE...: adds settings to the charon section of the instance's
# strongswan.conf (after swan_prepare, before swan_start).
swan_charon_add() {
	local f l
	f="$(swan_dir "$1")/strongswan.conf"; shift
	for l in "$@"; do sed -i "/^\tinstall_routes = /a\\\t$l" "$f"; done
}

# child_rekeyed SWAN_NS TSU_NS OLD_TSU_SPIS: one IKE SA and one CHILD_SA on both ends
# (strongSwan's rekeyed one gone too), agreeing on SPIs that differ from OLD_TSU_SPIS
# ("IN OUT" as tsu_child_spis prints them).
child_rekeyed() {
	sa_pair_ok "$1" "$2" || return 1
	local now
	now=$(tsu_child_spis "$2")
	[ "$now" != "$3" ] && [ "${now% *}" != "${3% *}" ] && [ "${now#* }" != "${3#* }" ]
}

# pair_start_tsu_initiator [TSU_KEY=VALUE...] -- [SWAN_KEY=VALUE...]: the usual pair on
# the current topology: strongSwan responder at site-b (fast retransmits, rekeyed SAs
# deleted after 1 s), tsunagid at site-a (tsu_fast_conf) initiating at start. Lines in the
# arrays PAIR_TSU_CONN / PAIR_SWAN_CONN go into that side's connection section, those in
# PAIR_TSU_CHILD into tsunagid's child "net", those in PAIR_TSU_DAEMON into its
# "tsunagi { }" section (after tsu_fast_conf's, so they win).
PAIR_TSU_CONN=() PAIR_SWAN_CONN=() PAIR_TSU_CHILD=() PAIR_TSU_DAEMON=()
pair_start_tsu_initiator() {
	local targs=() sargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do targs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	sargs=("$@")
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	swan_charon_add "$NS_SB" "delete_rekeyed_delay = 1"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b "${sargs[@]}"
	[ ${#PAIR_SWAN_CONN[@]} = 0 ] || conf_conn_add "$(swan_dir "$NS_SB")/swanctl.conf" "${PAIR_SWAN_CONN[@]}"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a START_ACTION=start "${targs[@]}"
	[ ${#PAIR_TSU_CONN[@]} = 0 ] || conf_conn_add "$(tsu_dir "$NS_SA")/tsunagi.conf" "${PAIR_TSU_CONN[@]}"
	[ ${#PAIR_TSU_CHILD[@]} = 0 ] || conf_child_add "$(tsu_dir "$NS_SA")/tsunagi.conf" "${PAIR_TSU_CHILD[@]}"
	tsu_fast_conf "$NS_SA"
	[ ${#PAIR_TSU_DAEMON[@]} = 0 ] || tsu_daemon_add "$NS_SA" "${PAIR_TSU_DAEMON[@]}"
	tsu_start "$NS_SA"
}

# ike_rekeyed SWAN_NS TSU_NS OLD_IKE_SPIS: one IKE SA and one CHILD_SA on both ends, the
# IKE SA under SPIs ("I_i R_r" as swan_ike_spis prints them) both ends agree on and that
# differ from OLD_IKE_SPIS.
ike_rekeyed() {
	sa_pair_ok "$1" "$2" || return 1
	local s t
	s=$(swan_ike_spis "$1") t=$(tsu_ike_spis "$2")
	[ -n "$s" ] && [ "$s" = "$t" ] && [ "$s" != "$3" ]
}

# tsu_counter NS NAME: one of tsunagictl --counters' values (e.g. esp-no-sa), 0 if absent.
tsu_counter() {
	tsu_ctl "$1" --counters --pretty 2>/dev/null | awk -v k="$2" '$1 == k {v=$3} END{print v+0}'
}

# tcp_transfer_whole FROM_NS TO_NS TO_ADDR BYTES SECONDS: sends BYTES random bytes by
# TCP from FROM_NS to TO_ADDR:5201 in TO_NS, where the receiver counts and hashes them
# and answers with that; both bounded to SECONDS. Succeeds when length and SHA-256 agree;
# otherwise prints what came back (for the FAIL line).
tcp_transfer_whole() {
	local from=$1 to=$2 addr=$3 bytes=$4 secs=$5 sent got_n got_h want_n want_h
	ip netns exec "$to" timeout $((secs + 10)) python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5201)); s.listen(1); c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
c.sendall(("%d %s" % (n, h.hexdigest())).encode()); c.close()' "$addr" >/dev/null 2>&1 &
	sleep 0.5
	sent=$(timeout "$secs" ip netns exec "$from" python3 -c '
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
c = socket.create_connection((sys.argv[1], 5201), timeout=int(sys.argv[3]) - 5)
c.sendall(data); c.shutdown(socket.SHUT_WR)
print(c.recv(200).decode(), "%d %s" % (len(data), hashlib.sha256(data).hexdigest()))' \
		"$addr" "$bytes" "$secs" 2>&1)
	read -r got_n got_h want_n want_h <<<"$sent"
	[ -n "${want_h:-}" ] && [ "$got_n" = "$want_n" ] && [ "$got_h" = "$want_h" ] && return 0
	echo "${sent:0:200}"
	return 1
}
