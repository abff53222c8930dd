#!/bin/bash
# The group tsunagi: tsunagid on its default socket /run/tsunagi/tsunagi.vici (in a
# private mount namespace with its own /run and an /etc/group that has the group
# tsunagi, so the machine's are never touched) makes the directory root:tsunagi 0750
# and the socket root:tsunagi 0660. A user (uid 4243, not root) in the group runs
# tsunagictl --list-sas and --counters; a user not in it is refused (exit 3) with a
# message naming the group. Without the group the socket stays root:root and the
# member is refused too.
. "$(dirname "$0")/lib.sh"
iop_begin vici-group
iop_require_tsunagid
iop_require_cmd setpriv util-linux
iop_require_cmd unshare util-linux
ns_add sa
W=$IOP_WORK
chmod 711 "$W"
mkdir -m 755 "$W/bin"
cp "$BUILD/tsunagictl" "$W/bin/"	# reachable by the unprivileged users
printf 'tsunagi {\n\ttun = tsg%s\n}\n' $$ >"$W/tsunagi.conf"
cp /etc/group "$W/group"
grep -q '^tsunagi:' "$W/group" && sed -i '/^tsunagi:/d' "$W/group"
cp "$W/group" "$W/group-without"
echo "tsunagi:x:4242:" >>"$W/group"
iop_register_log "tsunagid" "$W/tsunagid.log"

cat >"$W/inner.sh" <<'EOF'
# Runs in the scenario's namespace with a private mount namespace.
W=$1 BUILD=$2
fail() { echo "FAIL: $*"; exit 1; }
mount -t tmpfs -o mode=755 tmpfs /run || fail "cannot mount a private /run"
# run_daemon GROUPFILE: tsunagid with the default socket and pidfile.
run_daemon() {
	mount --bind "$1" /etc/group || fail "cannot bind $1 over /etc/group"
	"$BUILD/tsunagid" --foreground --config "$W/tsunagi.conf" >>"$W/tsunagid.log" 2>&1 &
	PID=$!
	for i in $(seq 50); do [ -S /run/tsunagi/tsunagi.vici ] && break; sleep 0.1; done
	[ -S /run/tsunagi/tsunagi.vici ] || fail "no socket /run/tsunagi/tsunagi.vici within 5 s"
}
stop_daemon() {
	kill "$PID"; wait "$PID"
	umount /etc/group
}
member() { setpriv --reuid=4243 --regid=4243 --groups=4242 "$W/bin/tsunagictl" "$@"; }
stranger() { setpriv --reuid=4244 --regid=4244 --clear-groups "$W/bin/tsunagictl" "$@"; }

run_daemon "$W/group"
[ "$(stat -c '%a %U %G' /run/tsunagi)" = "750 root tsunagi" ] ||
	fail "/run/tsunagi is $(stat -c '%a %U %G' /run/tsunagi), not 750 root tsunagi"
[ "$(stat -c '%a %U %G' /run/tsunagi/tsunagi.vici)" = "660 root tsunagi" ] ||
	fail "the socket is $(stat -c '%a %U %G' /run/tsunagi/tsunagi.vici), not 660 root tsunagi"
member --list-sas >"$W/member.out" 2>&1 || fail "a member of tsunagi: --list-sas exited $?: $(cat "$W/member.out")"
member --counters >"$W/member-counters.out" 2>&1 && grep -q "ike-rx" "$W/member-counters.out" ||
	fail "a member of tsunagi: --counters failed: $(cat "$W/member-counters.out")"
stranger --list-sas >"$W/stranger.out" 2>&1
rc=$?
[ $rc = 3 ] || fail "a user not in tsunagi: --list-sas exited $rc, not 3: $(cat "$W/stranger.out")"
grep -q "permission denied: only root and members of the group 'tsunagi' may control tsunagid" "$W/stranger.out" ||
	fail "a user not in tsunagi is not told why: $(cat "$W/stranger.out")"
"$W/bin/tsunagictl" --list-sas >/dev/null 2>&1 || fail "root: --list-sas failed"
stop_daemon

run_daemon "$W/group-without"
[ "$(stat -c '%a %G' /run/tsunagi/tsunagi.vici)" = "660 root" ] ||
	fail "without the group the socket is $(stat -c '%a %U %G' /run/tsunagi/tsunagi.vici), not 660 root:root"
member --list-sas >"$W/member2.out" 2>&1
[ $? = 3 ] || fail "without the group, uid 4243 was not refused"
stop_daemon
echo OK
EOF
ip netns exec "$NS_SA" unshare -m --propagation private bash "$W/inner.sh" "$W" "$BUILD" >"$W/inner.out" 2>&1
grep -qx OK "$W/inner.out" || iop_fail "$(grep -m1 '^FAIL: ' "$W/inner.out" | cut -c7- || cat "$W/inner.out")"
grep -q "unable to give" "$W/tsunagid.log" && iop_fail "tsunagid could not give the socket to the group: $(grep -m1 'unable to give' "$W/tsunagid.log")"
iop_pass
