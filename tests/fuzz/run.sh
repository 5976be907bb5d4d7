#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET... - run each libFuzzer target for FUZZ_SECONDS
# (default 60) on a scratch copy of its seed corpus (the repository's corpus
# is not changed).  A crash stops with the reproducer's path; copy it to
# tests/fuzz/regressions/TARGET/ once fixed, so make test replays it.
# Prints the executions per target and the total.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${BUILD:?BUILD must be set}"
secs=${FUZZ_SECONDS:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/lsnfs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
total=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "$@"; do
	mkdir -p "$work/$t" "$work/crash-$t"
	cp "$here/corpus/$t"/* "$work/$t/"
	[[ -d $here/regressions/$t ]] && cp "$here/regressions/$t"/* "$work/$t/" 2>/dev/null || true
	log=$work/$t.log
	rc=0
	(cd "$work/crash-$t" && "$BUILD/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 "$work/$t" >"$log" 2>&1) || rc=$?
	runs=$(grep -Eo '^Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || true)
	if ((rc != 0)) || [[ -z $runs ]]; then
		echo "fuzz $t: FAILED (exit $rc)"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$log" | head -30
		ls "$work/crash-$t" | sed 's/^/  reproducer: /'
		mkdir -p /tmp/lsnfs-fuzz-crashes
		cp -r "$work/crash-$t" "$log" /tmp/lsnfs-fuzz-crashes/ 2>/dev/null || true
		echo "  (kept in /tmp/lsnfs-fuzz-crashes)"
		exit 1
	fi
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
	echo "fuzz $t: $runs executions in $secs s ($cov)"
	total=$((total + runs))
done
echo "fuzz: $total executions in total"
