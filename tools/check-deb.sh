#!/bin/bash
# The Debian package, built from this tree by tools/build-deb.sh, checked three ways:
#  1. its contents (dpkg-deb): tsunagid and tsunagictl, the conffile
#     /etc/tsunagi/tsunagi.conf (mode 640, in conffiles) and conf.d/, the unit, the
#     sysusers.d file for the group tsunagi, the manual pages and examples;
#  2. `systemd-analyze verify` of the unit as the package installs it;
#  3. a real `dpkg -i`, `dpkg -r` and `dpkg -P` inside a private mount namespace whose
#     root is an overlay of the machine's (writes go to a tmpfs: the machine's files,
#     dpkg database, users and groups are never touched). After the install the group
#     exists, the unit is enabled, and the unit's ExecStart (run in a network
#     namespace of its own) serves /run/tsunagi/tsunagi.vici to a member of the group;
#     remove keeps the edited configuration, conf.d/ and the group; purge leaves no
#     file of the package, no /etc/tsunagi, no group, no unit symlink.
# Needs root. A missing tool fails at once, naming its package. Ends with
#   check-deb: N passed, M failed
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "check-deb: $passed passed, $failed failed"; [ $failed = 0 ]; exit $?; }
[ "$(id -u)" = 0 ] || { bad "check-deb needs root (dpkg in a mount namespace)"; finish; }
for c in dpkg-buildpackage:dpkg-dev dh:debhelper dh_autoreconf:dh-autoreconf fakeroot:fakeroot \
	 dpkg-deb:dpkg systemd-analyze:systemd unshare:util-linux setpriv:util-linux groupadd:passwd; do
	command -v "${c%%:*}" >/dev/null 2>&1 || bad "${c%%:*} not installed (package ${c#*:}; run tools/setup.sh)"
done
[ $failed = 0 ] || finish

S=$(mktemp -d /tmp/check-deb.XXXXXX)
trap 'rm -rf "$S"' EXIT
start=$SECONDS
deb=$("$top/tools/build-deb.sh" "$S/out" 2>"$S/build.err" | grep '/tsunagi_[^/]*\.deb$')
[ -n "$deb" ] && [ -f "$deb" ] || { cat "$S/build.err"; bad "tools/build-deb.sh built no tsunagi_*.deb"; finish; }
ok "built $(basename "$deb") in $((SECONDS - start)) s"

# --- 1. contents -------------------------------------------------------------------------
x=$S/x
dpkg-deb -x "$deb" "$x" && dpkg-deb -e "$deb" "$x/DEBIAN" || { bad "dpkg-deb cannot unpack it"; finish; }
n=$failed
for f in usr/sbin/tsunagid usr/sbin/tsunagictl; do [ -x "$x/$f" ] || bad "/$f not in the package"; done
for f in etc/tsunagi/tsunagi.conf lib/systemd/system/tsunagi.service usr/lib/sysusers.d/tsunagi.conf \
	 usr/share/man/man8/tsunagid.8.gz usr/share/man/man8/tsunagictl.8.gz \
	 usr/share/man/man5/tsunagi.conf.5.gz usr/share/doc/tsunagi/examples/site-a.conf \
	 usr/share/doc/tsunagi/copyright; do
	[ -f "$x/$f" ] || bad "/$f not in the package"
done
[ -d "$x/etc/tsunagi/conf.d" ] || bad "/etc/tsunagi/conf.d/ not in the package"
# The NAT fast path's tc program (built with clang, a build dependency).
ls "$x"/usr/lib/*/tsunagi/nat_fast.bpf.o >/dev/null 2>&1 || bad "the NAT fast path's nat_fast.bpf.o not in the package"
[ "$(stat -c %a "$x/etc/tsunagi/tsunagi.conf" 2>/dev/null)" = 640 ] || bad "tsunagi.conf is not mode 640"
[ "$(stat -c %a "$x/etc/tsunagi" 2>/dev/null)" = 750 ] || bad "/etc/tsunagi is not mode 750"
grep -qx /etc/tsunagi/tsunagi.conf "$x/DEBIAN/conffiles" 2>/dev/null || bad "tsunagi.conf is not a conffile"
grep -qx 'g tsunagi -' "$x/usr/lib/sysusers.d/tsunagi.conf" 2>/dev/null || bad "the sysusers.d file does not create the group tsunagi"
grep -qx 'ExecStart=/usr/sbin/tsunagid --foreground --config /etc/tsunagi/tsunagi.conf .*' \
	"$x/lib/systemd/system/tsunagi.service" || bad "the unit does not run /usr/sbin/tsunagid with /etc/tsunagi/tsunagi.conf"
grep -qx 'Group=tsunagi' "$x/lib/systemd/system/tsunagi.service" || bad "the unit does not run with Group=tsunagi"
[ $failed = "$n" ] && ok "contents: binaries, conffile (640), conf.d/, unit, sysusers.d, man pages, examples, fast path program"

# --- 2. the unit ---------------------------------------------------------------------------
mkdir "$S/verify"
sed "s|^ExecStart=/usr/sbin/|ExecStart=$x/usr/sbin/|" "$x/lib/systemd/system/tsunagi.service" >"$S/verify/tsunagi.service"
out=$(MANPATH="$x/usr/share/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$S/verify/tsunagi.service" 2>&1)
rc=$?
if [ $rc = 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify tsunagi.service: no complaint"
else bad "systemd-analyze verify tsunagi.service (exit $rc): $out"; fi

# --- 3. install, start, remove, purge in an overlay of / ---------------------------------
cat >"$S/inner.sh" <<'EOF'
# In a private mount namespace: / as an overlay whose writes go to a tmpfs.
set -u
S=$1 DEB=$2
R=$S/ovl/root
fail() { echo "FAIL: $*"; }
mount -t tmpfs tmpfs "$S/ovl" || { fail "cannot mount a tmpfs"; exit 1; }
mkdir "$S/ovl/upper" "$S/ovl/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/ovl/upper,workdir=$S/ovl/work" "$R" ||
	{ fail "cannot mount an overlay of /"; exit 1; }
mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t tmpfs tmpfs "$R/run" &&
	mount -t tmpfs tmpfs "$R/tmp" || { fail "cannot mount /proc, /dev, /run, /tmp in the overlay"; exit 1; }
cp "$DEB" "$R/tmp/tsunagi.deb"
in_root() { chroot "$R" "$@"; }
in_root dpkg-query -W tsunagi >/dev/null 2>&1 && { fail "tsunagi is installed on this machine already"; exit 1; }
grep -q '^tsunagi:' "$R/etc/group" && { fail "the group tsunagi exists on this machine already"; exit 1; }
cp "$R/etc/group" "$S/group.before"
(cd "$S/ovl/upper" && find . | sort) >"$S/upper.before"

in_root dpkg -i /tmp/tsunagi.deb >"$S/install.out" 2>&1 || { fail "dpkg -i: $(tail -5 "$S/install.out")"; exit 1; }
echo "ok: dpkg -i"
gid=$(in_root getent group tsunagi | cut -d: -f3)
[ -n "$gid" ] && echo "ok: the group tsunagi (gid $gid) exists" || fail "dpkg -i created no group tsunagi"
[ -L "$R/etc/systemd/system/multi-user.target.wants/tsunagi.service" ] &&
	echo "ok: tsunagi.service is enabled" || fail "dpkg -i did not enable tsunagi.service"
[ "$(stat -c '%a %U %G' "$R/etc/tsunagi/tsunagi.conf")" = "640 root root" ] ||
	fail "installed tsunagi.conf is $(stat -c '%a %U %G' "$R/etc/tsunagi/tsunagi.conf"), not 640 root root"

# The unit's ExecStart, as root (systemd would add Group=tsunagi), in its own netns.
exec_start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/tsunagi.service")
# shellcheck disable=SC2086
unshare -n chroot "$R" $exec_start >"$S/tsunagid.log" 2>&1 &
pid=$!
for i in $(seq 50); do [ -S "$R/run/tsunagi/tsunagi.vici" ] && break; sleep 0.1; done
if [ -S "$R/run/tsunagi/tsunagi.vici" ]; then
	st=$(in_root stat -c '%a %U %G' /run/tsunagi /run/tsunagi/tsunagi.vici | tr '\n' ' ')
	[ "$st" = "750 root tsunagi 660 root tsunagi " ] ||
		fail "/run/tsunagi and its socket are '$st', not 750/660 root tsunagi"
	v=$(in_root setpriv --reuid=4243 --regid=4243 --groups="$gid" /usr/sbin/tsunagictl --version 2>&1)
	case $v in "tsunagid 0."*) echo "ok: the installed daemon starts; a member of tsunagi gets: $v" ;;
		*) fail "a member of tsunagi: tsunagictl --version: $v" ;; esac
else
	fail "the installed tsunagid did not open /run/tsunagi/tsunagi.vici: $(tail -5 "$S/tsunagid.log")"
fi
kill "$pid" 2>/dev/null; wait "$pid"
grep -q "tsunagid stopped" "$S/tsunagid.log" || fail "the installed tsunagid did not stop cleanly: $(tail -3 "$S/tsunagid.log")"

# The operator edits the configuration and adds a tunnel; remove keeps both.
echo "# edited by the operator" >>"$R/etc/tsunagi/tsunagi.conf"
echo "connections { }" >"$R/etc/tsunagi/conf.d/site-b.conf"
in_root dpkg -r tsunagi >"$S/remove.out" 2>&1 || fail "dpkg -r: $(tail -5 "$S/remove.out")"
[ ! -e "$R/usr/sbin/tsunagid" ] && [ ! -e "$R/lib/systemd/system/tsunagi.service" ] ||
	fail "dpkg -r left the daemon or the unit"
[ "$(tail -1 "$R/etc/tsunagi/tsunagi.conf" 2>/dev/null)" = "# edited by the operator" ] &&
	[ -f "$R/etc/tsunagi/conf.d/site-b.conf" ] && grep -q '^tsunagi:' "$R/etc/group" &&
	echo "ok: dpkg -r keeps the edited configuration, conf.d/ and the group" ||
	fail "dpkg -r did not keep the edited tsunagi.conf, conf.d/site-b.conf and the group"

in_root dpkg -P tsunagi >"$S/purge.out" 2>&1 || fail "dpkg -P: $(tail -5 "$S/purge.out")"
[ ! -e "$R/etc/tsunagi" ] || fail "dpkg -P left /etc/tsunagi"
cmp -s "$R/etc/group" "$S/group.before" || fail "after dpkg -P /etc/group differs from before: $(diff "$S/group.before" "$R/etc/group")"
# Every file the install added is gone: what the overlay holds now that the machine
# does not have is only dpkg's own records, the empty state directories of
# deb-systemd-helper and man-db's cache (its trigger indexes every package's manual
# pages, and on a machine where it never ran it makes /var/cache/man/<lang>/ first:
# seen on a fresh Debian root) (copies of the machine's directories and caches do
# not count).
(cd "$S/ovl/upper" && find . | sort) >"$S/upper.after"
left=$(comm -13 "$S/upper.before" "$S/upper.after" | while IFS= read -r p; do
	[ -e "/${p#./}" ] || [ -L "/${p#./}" ] || echo "$p"; done | grep -Ev \
	'^\./(var/lib/dpkg/.*|var/log/.*|var/cache/man(/.*)?|var/lib/systemd/deb-systemd(-user)?-helper-enabled(/[a-z.-]+\.wants)?)$')
named=$(cd "$S/ovl/upper" && find . -name '*tsunagi*' ! -path './var/log/*')
[ -z "$left$named" ] && echo "ok: dpkg -P leaves nothing of the package" || fail "dpkg -P left: $(echo $left $named)"
grep -rl tsunagi "$S/ovl/upper/var/lib/dpkg/info" 2>/dev/null | head -3 | grep -q . &&
	fail "dpkg -P left tsunagi in dpkg's info: $(ls "$S/ovl/upper/var/lib/dpkg/info" | grep tsunagi)"
exit 0
EOF
mkdir "$S/ovl"
unshare -m --propagation private bash "$S/inner.sh" "$S" "$deb" >"$S/inner.out" 2>&1
while IFS= read -r line; do
	case $line in
	ok:*) ok "${line#ok: }" ;;
	FAIL:*) bad "${line#FAIL: }" ;;
	*) echo "  $line" ;;
	esac
done <"$S/inner.out"
grep -q "^ok: dpkg -P leaves nothing" "$S/inner.out" || bad "the install, remove and purge did not run to their end"
finish
