#!/bin/sh
# Builds the Debian package tsunagi_VERSION_ARCH.deb from this source tree:
#
#   tools/build-deb.sh [OUTDIR]        (default OUTDIR: build-deb/)
#
# The tree as it is (every file git tracks or would track, uncommitted edits
# included; every file but build directories outside git) is copied to a scratch
# directory and built there with `dpkg-buildpackage -b -us -uc` (debian/: debhelper
# 13, dh with autoreconf and configure), so the tree itself is left as it was. Needs
# the packages debhelper, dh-autoreconf, dpkg-dev, fakeroot and the build
# dependencies (tools/setup.sh installs them all). Prints the path of the .deb.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-deb}
for c in dpkg-buildpackage:dpkg-dev dh:debhelper dh_autoreconf:dh-autoreconf fakeroot:fakeroot; do
	command -v "${c%%:*}" >/dev/null 2>&1 ||
		{ echo "build-deb: ${c%%:*} missing (package ${c#*:}; run tools/setup.sh)" >&2; exit 1; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/tsunagi"
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | xargs -0 sh -c \
		'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -xf - -C "$scratch/tsunagi"
else
	tar --exclude='./build-*' --exclude=./autom4te.cache -cf - . | tar -xf - -C "$scratch/tsunagi"
fi
cd "$scratch/tsunagi"
DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" dpkg-buildpackage -b -us -uc >"$scratch/build.log" 2>&1 || {
	tail -40 "$scratch/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
}
for f in "$scratch"/*.deb; do
	cp "$f" "$out/"
	echo "$out/$(basename "$f")"
done
