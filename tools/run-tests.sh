#!/bin/bash
# Builds tsunagi and runs every test: unit tests and fuzz-corpus replays (make check),
# the same under AddressSanitizer + UndefinedBehaviorSanitizer, the unit tests under
# ThreadSanitizer, the Debian package (tools/check-deb.sh), and the interop scenarios
# in network namespaces against real peers. Ends with one line:
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
		case $logf in *.sh.log) continue ;; esac	# scripts: below
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$logf" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$logf" | tail -1)
		if [ -z "$p$f" ]; then
			echo "FAIL: $logf has no cmocka summary (crashed?)"
			f=1
		fi
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
	done
	# Test scripts (tests/unit/*.sh): one test each; a skip says why.
	for trs in "$1"/tests/unit/*.sh.trs; do
		[ -f "$trs" ] || continue
		case $(sed -n 's/^:test-result: //p' "$trs") in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)); echo "SKIP: $(sed -n 's/^SKIP: //p' "${trs%.trs}.log" | head -1)" ;;
		*) failed=$((failed + 1)) ;;
		esac
	done
	# Fuzz corpus replays: one test per target.
	local rp=$(grep -c '^PASS: fuzz_' "$1"/tests/fuzz/replay-corpora.sh.log 2>/dev/null)
	local rf=$(grep -c '^FAIL: fuzz_' "$1"/tests/fuzz/replay-corpora.sh.log 2>/dev/null)
	passed=$((passed + ${rp:-0}))
	failed=$((failed + ${rf:-0}))
}

# build_in DIR CONFIGURE-ARGS...: out-of-tree configure and build.
build_in() {
	local dir=$1; shift
	mkdir -p "$dir"
	( cd "$dir" && "$top"/configure -q "$@" >configure.out 2>&1 ) || {
		cat "$dir"/configure.out; return 1; }
	make -C "$dir" -j"$(nproc)" >"$dir"/build.out 2>&1 || { tail -40 "$dir"/build.out; return 1; }
}

# run_check DIR: make check. Optional settings (as variables): check_tests, the
# tests to run instead of all; check_wrap, a command every test runs under.
check_tests='' check_wrap=''
run_check() {
	local dir=$1
	make -C "$dir" -j"$(nproc)" check ${check_tests:+TESTS="$check_tests"} \
		${check_wrap:+LOG_COMPILER="$check_wrap"} >"$dir"/check.out 2>&1
	local rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS)' "$dir"/check.out
	if [ $rc -ne 0 ]; then
		for l in "$dir"/tests/unit/*.log "$dir"/tests/fuzz/*.log; do
			grep -q -E '^(FAIL|ERROR)' "${l%.log}.trs" 2>/dev/null && { echo "--- $l"; tail -30 "$l"; }
		done
	fi
	return 0
}

# build_and_check DIR CONFIGURE-ARGS...
build_and_check() {
	build_in "$@" && run_check "$1"
}

# The unit tests under ThreadSanitizer, the engine's stress test (test_esp_stress)
# above all. A race report is a failure: the test stops with exit code 66.
tsan_stage() {
	local dir=build-tsan t
	build_in "$dir" --enable-tsan || return 1
	make -C "$dir" -j"$(nproc)" check TESTS= >>"$dir"/build.out 2>&1 ||
		{ tail -40 "$dir"/build.out; return 1; }
	rm -f "$dir"/tests/unit/*.log "$dir"/tests/unit/*.trs
	check_tests=''
	for t in "$dir"/tests/unit/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		check_tests="$check_tests tests/unit/${t##*/}"
	done
	export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
	# TSan needs its shadow memory at fixed places; with more ASLR entropy than it
	# knows (vm.mmap_rnd_bits > 28 on some kernels) it stops with "unexpected memory
	# mapping". Then the tests run with ASLR off, for themselves only.
	check_wrap=''
	if "$dir"/tests/unit/test_replay 2>&1 | grep -q 'unexpected memory mapping'; then
		check_wrap="setarch $(uname -m) -R"
		echo "ThreadSanitizer: running the tests under $check_wrap"
	fi
	run_check "$dir"
	check_tests='' check_wrap=''
	unset TSAN_OPTIONS
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

	log "unit tests under ThreadSanitizer (build-tsan/)"
	if tsan_stage; then
		count_cmocka build-tsan
	else
		failed=$((failed + 1))
	fi

	log "Debian package (tools/check-deb.sh: build, contents, unit, install/remove/purge)"
	out=$(mktemp)
	tools/check-deb.sh 2>&1 | tee "$out"
	if grep -q '^check-deb: [0-9]* passed, 0 failed$' "$out"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	rm -f "$out"

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
