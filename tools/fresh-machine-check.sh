#!/bin/bash
# Runs the README's commands on a brand-new minimal Debian 12, the way a new user's
# machine would: debootstrap a minbase root into a scratch folder, clone this checkout
# (its committed HEAD) into it, and in a chroot run
#   tools/setup.sh && tools/run-tests.sh      (or, with --demo, tools/setup.sh && tools/demo.sh)
# A package that tools/setup.sh forgets, or a file the code expects that only this
# machine has, shows up here and not in CI on a developer's machine. Needs root, about
# 1.5 GB of disk and a few minutes, and debootstrap (tools/setup.sh installs it); nothing
# is installed on this machine.
#   FRESH_ROOT=DIR   where the root goes (default /var/tmp/tsunagi-fresh; kept for reuse:
#                    a second run skips debootstrap and the packages already there)
#   --clean          remove FRESH_ROOT first
# Network safety: the chroot shares this machine's network namespace for apt only; a
# policy-rc.d keeps every package's service from starting, and the tests make their own
# namespaces as they always do.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
root=${FRESH_ROOT:-/var/tmp/tsunagi-fresh}
what=tests
for a in "$@"; do
	case "$a" in
	--demo) what=demo ;;
	--clean) rm -rf --one-file-system "$root" ;;
	*) echo "usage: $0 [--demo] [--clean]"; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-machine-check: needs root"; exit 1; }
command -v debootstrap >/dev/null ||
	{ echo "fresh-machine-check: debootstrap missing (package debootstrap; tools/setup.sh installs it)"; exit 1; }
if [ ! -x "$root/usr/bin/apt-get" ]; then
	mkdir -p "$root"
	debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounted=()
mnt() { mount "$@"; mounted=("${@: -1}" "${mounted[@]}"); }
cleanup() {
	local m
	for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
# The root must be a mount point: `ip netns exec` makes / a slave mount.
mnt --bind "$root" "$root"
mnt --bind /proc "$root/proc"
mnt --bind /sys "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs none "$root/run"
mkdir -p "$root/run/netns"

rm -rf "$root/src"
git clone -q "$top" "$root/src"
case $what in
tests) chroot "$root" /bin/bash -c 'cd /src && export CI=true && tools/setup.sh && tools/run-tests.sh' ;;
demo) chroot "$root" /bin/bash -c 'cd /src && tools/setup.sh && tools/demo.sh' ;;
esac
