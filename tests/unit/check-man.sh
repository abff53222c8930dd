#!/bin/sh
# The manual pages render without a single warning (man --warnings), and
# tsunagi.conf(5) documents every key the configuration builder accepts and every
# strongSwan key it refuses by name. Both lists are read from conf/config_*.c (the
# strcmp(..., "key") calls and the *_unsupported[] arrays), so they cannot go stale.
srcdir=${srcdir:-.}
conf5=$srcdir/man/tsunagi.conf.5
fail=0

if ! command -v man >/dev/null 2>&1; then
	echo "SKIP: man is not installed (package man-db; tools/setup.sh installs it)"
	exit 77
fi

for page in man/tsunagid.8 man/tsunagictl.8 man/tsunagi.conf.5; do
	# A fixed width, so that "can't break line" does not depend on the terminal.
	warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$srcdir/$page" 2>&1 >/dev/null)
	if [ -n "$warnings" ]; then
		echo "FAIL: $page renders with warnings:"
		echo "$warnings"
		fail=1
	else
		echo "ok: $page renders without warnings"
	fi
done

# Accepted keys: each must stand in bold, \fBkey\fR, as the page writes key names.
accepted=$(grep -oh 'strcmp([^()]*"[^"]*")' "$srcdir"/conf/config_*.c |
	sed 's/.*"\([^"]*\)")$/\1/' | sort -u)
[ -n "$accepted" ] || { echo "FAIL: no keys found in conf/config_*.c"; fail=1; }
for k in $accepted; do
	grep -qF "\\fB$k\\fR" "$conf5" && continue
	printf '%s\n' "FAIL: tsunagi.conf.5 does not document the key '$k' (as \\fB$k\\fR)"
	fail=1
done

# Refused strongSwan keys, modes and secret types: each named somewhere in the page.
refused=$(awk '/(unsupported|other_secret_types)\[\] = \{/ { on = 1 }
	on { print } on && /\};/ { on = 0 }' "$srcdir"/conf/config_*.c |
	grep -o '"[^"]*"' | tr -d '"' | sort -u)
[ -n "$refused" ] || { echo "FAIL: no refused keys found in conf/config_*.c"; fail=1; }
plain=$(sed 's/\\f[BIRP]//g' "$conf5")	# without font changes, for whole-word search
for k in $refused; do
	printf '%s\n' "$plain" | grep -qw -- "$k" && continue
	echo "FAIL: tsunagi.conf.5 does not name the refused key '$k'"
	fail=1
done
[ $fail = 0 ] && echo "ok: tsunagi.conf.5 names $(echo $accepted | wc -w) accepted and $(echo $refused | wc -w) refused keys"
exit $fail
