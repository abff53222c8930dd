#!/bin/sh
# Replays each fuzz target's seed corpus (tests/fuzz/corpus/<target>/) once.
# Fails if a target crashes or a target has no corpus.
srcdir=${srcdir:-.}
status=0
n=0
for bin in tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.o|*.c) continue ;; esac
	name=$(basename "$bin")
	corpus="$srcdir/tests/fuzz/corpus/$name"
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "FAIL: $name has no seed corpus in $corpus"
		status=1
		continue
	fi
	if "$bin" "$corpus" >/dev/null; then
		echo "PASS: $name ($(ls "$corpus" | wc -l) inputs)"
		n=$((n + 1))
	else
		echo "FAIL: $name crashed on its corpus"
		status=1
	fi
done
echo "replayed $n fuzz corpora"
exit $status
