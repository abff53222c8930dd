#!/bin/sh
# `make install DESTDIR=...` puts every file of a service installation in place, and
# a second install over the first keeps the operator's edited configuration and the
# files in conf.d/. Runs from the top build directory (make check); the installation
# directories come from the Makefile (inst_* in AM_TESTS_ENVIRONMENT).
set -u
srcdir=${srcdir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

${MAKE:-make} install DESTDIR="$tmp" >"$tmp/install1.out" 2>&1 ||
	{ cat "$tmp/install1.out"; echo "FAIL: make install"; exit 1; }

conf=$tmp$inst_sysconfdir/tsunagi
for f in "$tmp$inst_sbindir/tsunagid" "$tmp$inst_sbindir/tsunagictl"; do
	[ -x "$f" ] || bad "$f is not installed (or not executable)"
done
for f in "$tmp$inst_mandir/man8/tsunagid.8" "$tmp$inst_mandir/man8/tsunagictl.8" \
	 "$tmp$inst_mandir/man5/tsunagi.conf.5" "$tmp$inst_docdir/examples/tsunagi.conf"; do
	[ -f "$f" ] || bad "$f is not installed"
done
cmp -s "$srcdir/etc/tsunagi.conf" "$conf/tsunagi.conf" ||
	bad "$conf/tsunagi.conf is not the example etc/tsunagi.conf"
grep -q '^include conf.d/\*.conf' "$conf/tsunagi.conf" 2>/dev/null ||
	bad "$conf/tsunagi.conf does not include conf.d/*.conf"
[ -d "$conf/conf.d" ] || bad "$conf/conf.d/ is not installed"
[ -z "$(ls -A "$conf/conf.d" 2>/dev/null)" ] || bad "$conf/conf.d/ is not empty"
[ "$(stat -c %a "$conf/tsunagi.conf" 2>/dev/null)" = 640 ] ||
	bad "$conf/tsunagi.conf is not mode 640 (it may hold secrets)"

if [ -n "$inst_unitdir" ]; then
	unit=$tmp$inst_unitdir/tsunagi.service
	if [ -f "$unit" ]; then
		grep -qx "ExecStart=$inst_sbindir/tsunagid --foreground --config $inst_sysconfdir/tsunagi/tsunagi.conf .*" "$unit" ||
			bad "tsunagi.service: ExecStart does not run $inst_sbindir/tsunagid --foreground with the installed config"
		grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || bad "tsunagi.service: no SIGHUP reload"
		grep -q '^ExecStart=.*--vici unix:///run/tsunagi/tsunagi.vici' "$unit" ||
			bad "tsunagi.service: VICI socket is not /run/tsunagi/tsunagi.vici"
		for want in 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_IPC_LOCK' \
			    'ProtectSystem=strict' 'ReadWritePaths=/run/tsunagi' 'RuntimeDirectory=tsunagi' \
			    'DeviceAllow=/dev/net/tun rw' 'LimitMEMLOCK=infinity' 'PrivateTmp=yes' \
			    'ProtectHome=yes' 'Group=tsunagi' 'RuntimeDirectoryMode=0750'; do
			grep -qxF "$want" "$unit" || bad "tsunagi.service lacks '$want'"
		done
	else
		bad "$unit is not installed"
	fi
	grep -qx 'g tsunagi -' "$tmp$inst_sysusersdir/tsunagi.conf" 2>/dev/null ||
		bad "$tmp$inst_sysusersdir/tsunagi.conf (sysusers.d) does not create the group tsunagi"
else
	echo "note: configured --without-systemdsystemunitdir, no unit to check"
fi

# The operator edits the configuration and adds a tunnel; a second install keeps both.
echo "# edited by the operator" >>"$conf/tsunagi.conf"
echo "connections { }" >"$conf/conf.d/site-b.conf"
${MAKE:-make} install DESTDIR="$tmp" >"$tmp/install2.out" 2>&1 ||
	{ cat "$tmp/install2.out"; echo "FAIL: second make install"; exit 1; }
[ "$(tail -1 "$conf/tsunagi.conf")" = "# edited by the operator" ] ||
	bad "a second make install overwrote the edited $conf/tsunagi.conf"
[ -f "$conf/conf.d/site-b.conf" ] || bad "a second make install removed conf.d/site-b.conf"
grep -q "keeping .*tsunagi.conf" "$tmp/install2.out" ||
	bad "the second make install does not say that it keeps tsunagi.conf"

# Uninstall keeps the edited configuration too.
${MAKE:-make} uninstall DESTDIR="$tmp" >"$tmp/uninstall.out" 2>&1 || bad "make uninstall"
[ -f "$conf/tsunagi.conf" ] || bad "make uninstall removed the edited tsunagi.conf"
[ -e "$tmp$inst_sbindir/tsunagid" ] && bad "make uninstall left tsunagid"
[ -n "$inst_unitdir" ] && [ -e "$tmp$inst_sysusersdir/tsunagi.conf" ] && bad "make uninstall left the sysusers.d file"

[ $fail = 0 ] && echo "ok: every file installed; a second install and uninstall keep the edited configuration"
exit $fail
