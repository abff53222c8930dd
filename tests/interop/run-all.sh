#!/bin/bash
# Runs every interop scenario (tests/interop/t-*.sh) and prints their result lines
# (PASS: / FAIL: / SKIP:, one per scenario), then the counts. Exits 0 even when some
# fail: the caller counts the FAIL lines.
#   BUILD=DIR   build directory holding tsunagid and tsunagictl (default ../../build-check)
#   ONLY=REGEX  run only the scenarios whose name matches
#   SCENARIO_TIMEOUT=SECONDS  per scenario (default 120; a scenario that needs more
#               says so in a line '# scenario-timeout: SECONDS', and gets the larger)
#   VERBOSE=1   progress notes on stderr
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-$here/../../build-check}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")
limit=${SCENARIO_TIMEOUT:-120}

scenarios=()
for t in "$here"/t-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	name=${name#t-}
	[ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && continue
	scenarios+=("$t")
done

skip_all() {
	for t in "${scenarios[@]}"; do
		n=$(basename "$t" .sh)
		echo "SKIP: ${n#t-}: $1"
	done
	echo "interop: 0 passed, 0 failed, ${#scenarios[@]} skipped"
	exit 0
}
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "iproute2 (ip) not installed"
probe="tsi$$-probe"
ip netns add "$probe" 2>/dev/null || skip_all "ip netns unavailable"
ip netns del "$probe"

# Every command and strongSwan plugin the scenarios use must be installed: a missing one
# fails every scenario at once, naming its package (never a time-out, never a skip).
if ! missing=$(sh "$here/../../tools/setup.sh" --check 2>&1); then
	why=$(grep '^missing:' <<<"$missing" | sed 's/^missing: //' | paste -sd ';' -)
	for t in "${scenarios[@]}"; do
		n=$(basename "$t" .sh)
		echo "FAIL: ${n#t-}: not installed: $why (run tools/setup.sh)"
	done
	echo "interop: 0 passed, ${#scenarios[@]} failed, 0 skipped"
	exit 0
fi

# Namespaces left by an earlier run that was killed outright.
. "$here/lib.sh"
iop_reap_stale

pass=0 fail=0 skip=0
for t in "${scenarios[@]}"; do
	n=$(basename "$t" .sh)
	n=${n#t-}
	out=$(mktemp)
	start=$SECONDS
	t_limit=$limit
	own=$(sed -n 's/^# scenario-timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -1)
	[ -n "$own" ] && [ "$own" -gt "$t_limit" ] && t_limit=$own
	timeout -k 10 "$t_limit" bash "$t" >"$out" 2>&1
	rc=$?
	result=$(grep -E '^(PASS|FAIL|SKIP): ' "$out" | tail -1)
	if [ -z "$result" ]; then
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			result="FAIL: $n: timed out after ${t_limit} s"
		else
			result="FAIL: $n: no result line (exit $rc)"
		fi
	fi
	# Diagnostics (indented, never counted) for what did not pass.
	case "$result" in
	PASS:*) pass=$((pass + 1)) ;;
	SKIP:*) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)); grep -vE '^(PASS|FAIL|SKIP): ' "$out" | sed 's/^\([^ ]\)/    \1/' ;;
	esac
	echo "$result ($((SECONDS - start)) s)"
	rm -f "$out"
done
echo "interop: $pass passed, $fail failed, $skip skipped"
exit 0
