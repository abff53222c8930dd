#!/bin/sh
# systemd-analyze verify on the installed tsunagi.service: every key known, every
# value valid, the manual pages of Documentation= found. The unit is checked as it
# would be on the host, with its ExecStart re-rooted in the DESTDIR the binary is in.
set -u
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze is not installed (package systemd)"
	exit 77
fi
if [ -z "$inst_unitdir" ]; then
	echo "SKIP: configured --without-systemdsystemunitdir, no unit installed"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${MAKE:-make} install DESTDIR="$tmp/root" >"$tmp/install.out" 2>&1 ||
	{ cat "$tmp/install.out"; echo "FAIL: make install"; exit 1; }
mkdir "$tmp/verify"
sed "s|^ExecStart=$inst_sbindir/|ExecStart=$tmp/root$inst_sbindir/|" \
	"$tmp/root$inst_unitdir/tsunagi.service" >"$tmp/verify/tsunagi.service"
out=$(MANPATH="$tmp/root$inst_mandir" SYSTEMD_LOG_COLOR=0 \
	systemd-analyze verify "$tmp/verify/tsunagi.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "$out"
	echo "FAIL: systemd-analyze verify tsunagi.service (exit $rc)"
	exit 1
fi
echo "ok: systemd-analyze verify tsunagi.service: no complaint"
