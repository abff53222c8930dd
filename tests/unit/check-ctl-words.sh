#!/bin/sh
# tsunagictl's operator words are parsed before it connects: bad words and arguments
# print the usage and exit 2; good ones get as far as connecting (exit 3 with no
# daemon at the socket). No daemon is needed.
ctl=./tsunagictl
[ -x "$ctl" ] || { echo "FAIL: $ctl not built"; exit 1; }
TSUNAGI_VICI_URI=unix:///nonexistent/tsunagi-check.vici
export TSUNAGI_VICI_URI
fail=0

# expect RC ARGS...: tsunagictl ARGS exits RC (2 also prints the usage).
expect() {
	want=$1; shift
	out=$("$ctl" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL: tsunagictl $* exited $rc, not $want: $out"
		fail=1
	elif [ "$want" = 2 ] && ! printf '%s\n' "$out" | grep -q '^usage: tsunagictl'; then
		echo "FAIL: tsunagictl $* printed no usage: $out"
		fail=1
	fi
}

expect 2
expect 2 show
expect 2 show ike
expect 2 show ipsec
expect 2 show ike sa detail a b
expect 2 show counters
expect 2 show crypto isakmp sa
expect 2 clear
expect 2 clear ike
expect 2 clear ike sa a b
expect 2 clear ipsec sa detail x
expect 2 clear counters a b
expect 2 refresh
expect 2 refresh a b
expect 2 frobnicate
expect 2 --list-sas show ike sa
expect 2 --list-sas extra
expect 2 --bogus-option
expect 2 --enable
expect 2 --disable
expect 2 --enable=
expect 2 --enable s2s extra
expect 2 --disable s2s --list-sas
expect 2 --monitor extra
expect 2 --monitor --count 0
expect 2 --monitor --count x
expect 2 --monitor --interval 1
expect 2 --watch --interval 0
expect 2 --watch --count
expect 2 --watch --timeout 1x
expect 2 --watch --monitor
expect 2 --list-sas --count 2
expect 3 show ike sa
expect 3 show ike sa detail
expect 3 show ipsec sa detail 198.51.100.2
expect 3 clear ike sa
expect 3 clear ipsec sa s2s
expect 3 clear counters
expect 3 clear counters s2s
expect 3 refresh s2s
expect 3 --json show ipsec sa
expect 3 --list-sas
expect 3 --enable s2s
expect 3 --disable s2s
expect 3 --monitor --count 1 --timeout 1
expect 3 --watch --interval 1 --count 2
expect 3 --list-nat
expect 3 --list-nat 10.9.0.10
expect 2 --list-nat 10.9.0.10 extra
expect 3 --flush-nat
expect 2 --flush-nat extra
[ $fail = 0 ] && echo "PASS: tsunagictl's words and usage errors"
exit $fail
