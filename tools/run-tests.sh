#!/bin/bash
# Builds tsunagi and runs every test: unit tests and fuzz-corpus replays (make check),
# the same under AddressSanitizer + UndefinedBehaviorSanitizer, and the interop
# scenarios in network namespaces against real peers. Ends with one line:
#   tests: N passed, M failed
# A scenario that cannot run says why and counts as skipped, never as passed.
#
# Options: --quick  (unit tests only, no sanitizer build, no interop)
set -u
cd "$(dirname "$0")/.."
top=$PWD
quick=no
[ "${1:-}" = "--quick" ] && quick=yes

passed=0 failed=0 skipped=0
log() { printf '== %s\n' "$*"; }

# count_cmocka DIR: adds the cmocka results of every test log under DIR.
count_cmocka() {
	local p f
	for logf in "$1"/tests/unit/*.log; do
		[ -f "$logf" ] || continue
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$logf" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$logf" | tail -1)
		if [ -z "$p$f" ]; then
			echo "FAIL: $logf has no cmocka summary (crashed?)"
			f=1
		fi
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
	done
	# Fuzz corpus replays: one test per target.
	local rp=$(grep -c '^PASS: fuzz_' "$1"/tests/fuzz/replay-corpora.sh.log 2>/dev/null)
	local rf=$(grep -c '^FAIL: fuzz_' "$1"/tests/fuzz/replay-corpora.sh.log 2>/dev/null)
	passed=$((passed + ${rp:-0}))
	failed=$((failed + ${rf:-0}))
}

# build DIR CONFIGURE-ARGS...: out-of-tree build and make check.
build_and_check() {
	local dir=$1; shift
	mkdir -p "$dir"
	( cd "$dir" && "$top"/configure -q "$@" >configure.out 2>&1 ) || {
		cat "$dir"/configure.out; return 1; }
	make -C "$dir" -j"$(nproc)" >"$dir"/build.out 2>&1 || { tail -40 "$dir"/build.out; return 1; }
	make -C "$dir" -j"$(nproc)" check >"$dir"/check.out 2>&1
	local rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS)' "$dir"/check.out
	if [ $rc -ne 0 ]; then
		for l in "$dir"/tests/unit/*.log "$dir"/tests/fuzz/*.log; do
			grep -q -E '^(FAIL|ERROR)' "${l%.log}.trs" 2>/dev/null && { echo "--- $l"; tail -30 "$l"; }
		done
	fi
	return 0
}

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	log "autoreconf"
	autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "tests: 0 passed, 1 failed"; exit 1; }
fi

log "build + unit tests (build-check/)"
if build_and_check build-check; then
	count_cmocka build-check
	# The binaries at the top of the build tree are what the interop tests run.
else
	failed=$((failed + 1))
fi

if [ $quick = no ]; then
	log "unit tests under ASan + UBSan (build-asan/)"
	if build_and_check build-asan --enable-sanitizers; then
		count_cmocka build-asan
	else
		failed=$((failed + 1))
	fi

	log "interop scenarios (tests/interop/)"
	if [ -x tests/interop/run-all.sh ]; then
		out=$(mktemp)
		BUILD="$top/build-check" tests/interop/run-all.sh 2>&1 | tee "$out"
		passed=$((passed + $(grep -c '^PASS:' "$out")))
		failed=$((failed + $(grep -c '^FAIL:' "$out")))
		skipped=$((skipped + $(grep -c '^SKIP:' "$out")))
		rm -f "$out"
	else
		echo "SKIP: tests/interop/run-all.sh not present"
		skipped=$((skipped + 1))
	fi
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
