#!/usr/bin/env bash
# tests/mounted/run-all.sh - run every tests/mounted/test_*.sh against a real
# FUSE mount.  BUILD must name the (absolute) build directory.
#
#   BUILD=$PWD/build tests/mounted/run-all.sh [test_name ...]
#
# Each test runs under `timeout 120`, MOUNTED_JOBS (default 2) at a time;
# prints PASS/FAIL per test (with the failing test's output) and ends with
# "N passed, N failed".  Needs /dev/fuse
# and fusermount3: without them it fails loudly rather than skipping.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${BUILD:=$(cd "$here/../.." && pwd)/build}"
export BUILD

missing=()
[[ -c /dev/fuse ]] || missing+=("/dev/fuse (FUSE kernel module not available; run as root in a VM or a privileged container)")
for tool in fusermount3 mountpoint getfattr setfattr python3 timeout cmp md5sum; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for bin in lsnfs mkfs.lsnfs; do
	[[ -x $BUILD/$bin ]] || missing+=("$BUILD/$bin (run make all)")
done
if ((${#missing[@]})); then
	echo "run-all.sh: cannot run the mounted tests; missing:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [[ ! -r /dev/fuse || ! -w /dev/fuse ]]; then
	echo "run-all.sh: /dev/fuse is not readable and writable by $(id -un); run as root" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

if (($#)); then
	tests=()
	for name in "$@"; do
		name=$(basename "${name%.sh}")
		tests+=("$here/test_${name#test_}.sh")
	done
else
	tests=("$here"/test_*.sh)
fi

# Tests run MOUNTED_JOBS at a time (default 2: they mostly wait on the
# daemon and the clock); each test's output is kept and shown when it ends.
jobs=${MOUNTED_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run-all.sh: MOUNTED_JOBS must be a positive number" >&2; exit 2; }
passed=0
failed=0
results=$(mktemp -d "${TMPDIR:-/tmp}/lsnfs-run-all.XXXXXX")
trap 'rm -rf "$results"' EXIT

run_one() { # TEST: writes $results/NAME.out and NAME.rc
	local t=$1 name rc=0 start=$SECONDS
	name=$(basename "$t" .sh)
	timeout -k 10 120 bash "$t" >"$results/$name.out" 2>&1 </dev/null || rc=$?
	echo "$rc $((SECONDS - start))" >"$results/$name.rc"
}

report() { # NAME
	local name=$1 rc secs why
	read -r rc secs <"$results/$name.rc"
	if ((rc == 0)); then
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
	else
		why="exit $rc"
		((rc == 124 || rc == 137)) && why="timed out after 120 s"
		echo "FAIL $name ($why, ${secs}s)"
		sed 's/^/    | /' "$results/$name.out"
		failed=$((failed + 1))
	fi
}

declare -A running=() # pid -> test name
for t in "${tests[@]}"; do
	while ((${#running[@]} >= jobs)); do
		wait -n || true
		for pid in "${!running[@]}"; do
			if ! kill -0 "$pid" 2>/dev/null; then
				report "${running[$pid]}"
				unset "running[$pid]"
			fi
		done
	done
	run_one "$t" &
	running[$!]=$(basename "$t" .sh)
done
wait
for pid in "${!running[@]}"; do
	report "${running[$pid]}"
done
echo "$passed passed, $failed failed"
((failed == 0))
